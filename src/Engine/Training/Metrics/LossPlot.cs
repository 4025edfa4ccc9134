namespace Engine.Training.Metrics;

/// <summary>Renders train loss against step as a 2-pixel line, with eval losses as square markers joined by a line,
/// on numbered axes, to a PNG. Non-finite losses are left out (a NaN breaks the train line there).</summary>
internal static class LossPlot
{
    public const int DefaultWidth = 800;
    public const int DefaultHeight = 500;

    public static readonly Rgb TrainColor = new(31, 119, 180);
    public static readonly Rgb EvalColor = new(230, 110, 0);
    public static readonly Rgb AxisColor = Rgb.Black;
    public static readonly Rgb GridColor = new(225, 225, 225);

    internal const int TextScale = 2;
    internal const int LineThickness = 2;
    internal const int EvalMarkerSize = 7;
    private const int TickLength = 5;
    private const int Gap = 6;
    private const int TitleY = Gap;
    private static int TextHeight => BitmapFont5x7.GlyphHeight * TextScale;

    public static void Save(string path, IEnumerable<StepMetrics> metrics, int width = DefaultWidth, int height = DefaultHeight)
    {
        var list = metrics as IReadOnlyCollection<StepMetrics> ?? metrics.ToList();
        var train = list.Select(m => (m.Step, m.Loss)).ToList();
        var eval = list.Where(m => m.EvalLoss.HasValue).Select(m => (m.Step, m.EvalLoss!.Value)).ToList();
        File.WriteAllBytes(path, RenderPng(train, eval, width, height));
    }

    public static byte[] RenderPng(IReadOnlyList<(long Step, double Loss)> train, IReadOnlyList<(long Step, double Loss)>? eval = null,
        int width = DefaultWidth, int height = DefaultHeight)
        => Render(train, eval ?? [], width, height, out _).EncodePng();

    internal static RgbCanvas Render(IReadOnlyList<(long Step, double Loss)> train, IReadOnlyList<(long Step, double Loss)> eval,
        int width, int height, out LossPlotLayout layout)
    {
        layout = ComputeLayout(train, eval, width, height);
        var canvas = new RgbCanvas(width, height, Rgb.White);
        DrawGrid(canvas, layout);
        DrawSeries(canvas, layout, train, TrainColor, breakOnNonFinite: true);
        DrawSeries(canvas, layout, eval, EvalColor, breakOnNonFinite: false);
        foreach (var (step, loss) in eval)
        {
            if (!double.IsFinite(loss)) continue;
            int half = EvalMarkerSize / 2;
            canvas.FillRect(layout.PixelX(step) - half, layout.PixelY(loss) - half, EvalMarkerSize, EvalMarkerSize, EvalColor);
        }
        // Axes go over the series so a curve running along an edge does not hide it.
        DrawAxes(canvas, layout);
        DrawLegend(canvas, layout, eval.Count > 0);
        return canvas;
    }

    internal static LossPlotLayout ComputeLayout(IReadOnlyList<(long Step, double Loss)> train, IReadOnlyList<(long Step, double Loss)> eval,
        int width, int height)
    {
        double xLo = double.PositiveInfinity, xHi = double.NegativeInfinity;
        double yLo = double.PositiveInfinity, yHi = double.NegativeInfinity;
        foreach (var (step, loss) in train.Concat(eval))
        {
            if (!double.IsFinite(loss)) continue;
            xLo = Math.Min(xLo, step); xHi = Math.Max(xHi, step);
            yLo = Math.Min(yLo, loss); yHi = Math.Max(yHi, loss);
        }
        // Nothing finite to show still yields a valid, empty chart rather than an error at the end of a run.
        if (xLo > xHi) { xLo = 0; xHi = 1; yLo = 0; yHi = 1; }
        var x = AxisTicks.Cover(xLo, xHi, targetCount: 8);
        var y = AxisTicks.Cover(yLo, yHi, targetCount: 6);

        int yLabelWidth = y.Values().Max(v => BitmapFont5x7.MeasureWidth(y.Label(v), TextScale));
        int left = Gap * 2 + yLabelWidth + TickLength;
        // Room for the "loss" title and legend, then for the top tick label, which is centred on the top edge.
        int top = TitleY + TextHeight + Gap + TextHeight / 2;
        int right = Gap + BitmapFont5x7.MeasureWidth(x.Label(x.Max), TextScale) / 2 + Gap;
        int bottom = TickLength + Gap + TextHeight + Gap + TextHeight + Gap; // tick labels, then the "step" title
        int plotWidth = width - left - right, plotHeight = height - top - bottom;
        if (plotWidth < 16 || plotHeight < 16)
            throw new ArgumentOutOfRangeException(nameof(width), $"a {width}x{height} image leaves no room for the plot area");
        return new LossPlotLayout(left, top, plotWidth, plotHeight, x, y);
    }

    private static void DrawGrid(RgbCanvas canvas, LossPlotLayout l)
    {
        foreach (double v in l.X.Values()) canvas.DrawLine(l.PixelX(v), l.Top, l.PixelX(v), l.Bottom, GridColor);
        foreach (double v in l.Y.Values()) canvas.DrawLine(l.Left, l.PixelY(v), l.Right, l.PixelY(v), GridColor);
    }

    private static void DrawAxes(RgbCanvas canvas, LossPlotLayout l)
    {
        foreach (double v in l.X.Values())
        {
            int px = l.PixelX(v);
            canvas.DrawLine(px, l.Bottom, px, l.Bottom + TickLength, AxisColor);
            string label = l.X.Label(v);
            canvas.DrawText(px - BitmapFont5x7.MeasureWidth(label, TextScale) / 2, l.Bottom + TickLength + Gap, label, AxisColor, TextScale);
        }
        foreach (double v in l.Y.Values())
        {
            int py = l.PixelY(v);
            canvas.DrawLine(l.Left - TickLength, py, l.Left, py, AxisColor);
            string label = l.Y.Label(v);
            canvas.DrawText(l.Left - TickLength - Gap - BitmapFont5x7.MeasureWidth(label, TextScale), py - TextHeight / 2, label, AxisColor, TextScale);
        }
        canvas.DrawLine(l.Left, l.Top, l.Left, l.Bottom, AxisColor);
        canvas.DrawLine(l.Left, l.Bottom, l.Right, l.Bottom, AxisColor);

        const string xTitle = "step", yTitle = "loss";
        int titleY = l.Bottom + TickLength + Gap + TextHeight + Gap;
        canvas.DrawText(l.Left + (l.PlotWidth - BitmapFont5x7.MeasureWidth(xTitle, TextScale)) / 2, titleY, xTitle, AxisColor, TextScale);
        canvas.DrawText(Gap * 2, TitleY, yTitle, AxisColor, TextScale);
    }

    private static void DrawSeries(RgbCanvas canvas, LossPlotLayout l, IReadOnlyList<(long Step, double Loss)> points, Rgb color, bool breakOnNonFinite)
    {
        // The brush's top-left corner follows the line; shifting by half the thickness centres the stroke on it.
        int shift = LineThickness / 2;
        (int X, int Y)? previous = null;
        foreach (var (step, loss) in points)
        {
            if (!double.IsFinite(loss))
            {
                if (breakOnNonFinite) previous = null;
                continue;
            }
            var p = (X: l.PixelX(step) - shift, Y: l.PixelY(loss) - shift);
            if (previous is { } q) canvas.DrawLine(q.X, q.Y, p.X, p.Y, color, LineThickness);
            else canvas.FillRect(p.X, p.Y, LineThickness, LineThickness, color);
            previous = p;
        }
    }

    private static void DrawLegend(RgbCanvas canvas, LossPlotLayout l, bool hasEval)
    {
        int y = TitleY;
        int x = l.Right;
        void Entry(string name, Rgb color, bool marker)
        {
            x -= BitmapFont5x7.MeasureWidth(name, TextScale);
            canvas.DrawText(x, y, name, AxisColor, TextScale);
            x -= Gap + 20;
            int midY = y + TextHeight / 2;
            canvas.FillRect(x, midY - LineThickness / 2, 20, LineThickness, color);
            if (marker) canvas.FillRect(x + 10 - EvalMarkerSize / 2, midY - EvalMarkerSize / 2, EvalMarkerSize, EvalMarkerSize, color);
            x -= Gap * 3;
        }
        if (hasEval) Entry("eval", EvalColor, marker: true);
        Entry("train", TrainColor, marker: false);
    }
}
