using Engine.Tests.Support;
using Engine.Formats;
using Engine.Training.Metrics;

namespace Engine.Tests.Training;

public class LossPlotTests
{
    private static double Line(long step) => 3.0 - 0.02 * step;

    [Fact]
    public void PngEncoder_TinyImage_DecodesToTheSamePixels()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90];
        var png = PngTestDecoder.Decode(PngEncoder.EncodeRgb(rgb, 3, 2));
        Assert.Equal((3, 2), (png.Width, png.Height));
        Assert.Equal(["IHDR", "IDAT", "IEND"], png.ChunkTypes);
        Assert.Equal(new Rgb(0, 0, 255), png[2, 0]);
        Assert.Equal(new Rgb(40, 50, 60), png[1, 1]);
    }

    [Theory]
    [InlineData(0, 100, 8, 0, 100, 20)]
    [InlineData(1, 3, 6, 1, 3, 0.5)]
    [InlineData(2.31, 2.37, 6, 2.31, 2.37, 0.01)]
    [InlineData(5, 5, 6, 4.4, 5.6, 0.2)]     // empty range widened by 10% to [4.5, 5.5], then to ticks
    [InlineData(0.7, 3.2, 6, 0.5, 3.5, 0.5)]
    public void AxisTicks_AreNice(double lo, double hi, int target, double min, double max, double step)
    {
        var t = AxisTicks.Cover(lo, hi, target);
        Assert.Equal(min, t.Min, 12);
        Assert.Equal(max, t.Max, 12);
        Assert.Equal(step, t.Step, 12);
    }

    [Fact]
    public void AxisTicks_Labels()
    {
        Assert.Equal(["1.0", "1.5", "2.0", "2.5", "3.0"], AxisTicks.Cover(1, 3).Values().Select(AxisTicks.Cover(1, 3).Label));
        var steps = AxisTicks.Cover(0, 100, 8);
        Assert.Equal(["0", "20", "40", "60", "80", "100"], steps.Values().Select(steps.Label));
        var big = AxisTicks.Cover(0, 200000, 4);
        Assert.Equal(["0", "5e4", "1e5", "1.5e5", "2e5"], big.Values().Select(big.Label));
        var small = AxisTicks.Cover(1e-5, 2e-4, 4);
        Assert.Equal(["0", "5e-5", "1e-4", "1.5e-4", "2e-4"], small.Values().Select(small.Label));
        var negative = AxisTicks.Cover(-1, 1, 4);
        Assert.Equal(["-1.0", "-0.5", "0", "0.5", "1.0"], negative.Values().Select(negative.Label));
    }

    [Fact]
    public void Font_DrawsGlyphRowsAtScale()
    {
        var canvas = new RgbCanvas(12, 7, Rgb.White);
        canvas.DrawText(0, 0, "1-", Rgb.Black);
        string[] expected =
        [
            "..#.........",
            ".##.........",
            "..#.........",
            "..#....###..",
            "..#.........",
            "..#.........",
            ".###........",
        ];
        for (int y = 0; y < 7; y++)
            Assert.Equal(expected[y], new string(Enumerable.Range(0, 12).Select(x => canvas[x, y] == Rgb.Black ? '#' : '.').ToArray()));

        var big = new RgbCanvas(20, 20, Rgb.White);
        big.DrawText(1, 1, ".", Rgb.Black, scale: 2);
        // '.' occupies columns 1-2, rows 5-6 of its glyph: at scale 2 that is pixels x 3..6, y 11..14.
        Assert.Equal(16, Enumerable.Range(0, 400).Count(i => big[i % 20, i / 20] == Rgb.Black));
        Assert.Equal(Rgb.Black, big[3, 11]);
        Assert.Equal(Rgb.Black, big[6, 14]);
        foreach (char c in "0123456789.-e+steplosstrainevl") Assert.True(BitmapFont5x7.HasGlyph(c), $"missing glyph '{c}'");
    }

    [Fact]
    public void Curve_IsDrawnWhereTheDataMapsTo()
    {
        var train = Enumerable.Range(0, 101).Select(s => ((long)s, Line(s))).ToList();
        List<(long, double)> eval = [(20, 2.7), (60, 1.9)];
        var canvas = LossPlot.Render(train, eval, 800, 500, out var layout);
        var png = PngTestDecoder.Decode(canvas.EncodePng());

        Assert.Equal((800, 500), (png.Width, png.Height));
        Assert.Equal((0.0, 100.0, 1.0, 3.0), (layout.X.Min, layout.X.Max, layout.Y.Min, layout.Y.Max));
        Assert.InRange(layout.Left, 40, 120);
        Assert.True(layout.PlotWidth > 600 && layout.PlotHeight > 380, $"plot area {layout.PlotWidth}x{layout.PlotHeight}");
        Assert.InRange(layout.PixelX(50) - (layout.Left + layout.PlotWidth / 2), -1, 1);
        Assert.InRange(layout.PixelY(2.0) - (layout.Top + layout.PlotHeight / 2), -1, 1);

        foreach (long s in new long[] { 5, 35, 50, 75, 95 })
            Assert.Equal(LossPlot.TrainColor, png[layout.PixelX(s), layout.PixelY(Line(s))]);
        // Between data points the stroke stays within a pixel of the exact line.
        foreach (double s in new[] { 12.5, 47.5, 83.5 })
        {
            int px = layout.PixelX(s), py = layout.PixelY(3.0 - 0.02 * s);
            Assert.True(Near(png, px, py, LossPlot.TrainColor), $"no train pixel near ({px},{py}) for step {s}");
        }
        foreach (var (s, loss) in eval)
        {
            Assert.Equal(LossPlot.EvalColor, png[layout.PixelX(s), layout.PixelY(loss)]);
            Assert.Equal(LossPlot.EvalColor, png[layout.PixelX(s) + 3, layout.PixelY(loss) - 3]); // marker, not just a line
        }
        // Away from the curve the plot area is background (or a grid line), never a series colour.
        Assert.Equal(Rgb.White, png[layout.PixelX(25) + 3, layout.PixelY(1.3)]);
        Assert.Equal(Rgb.White, png[layout.PixelX(85) + 3, layout.PixelY(2.9) + 3]);
        // Axes: the left edge is black down the plot, the bottom edge across it.
        Assert.All(Enumerable.Range(layout.Top, layout.PlotHeight), y => Assert.Equal(Rgb.Black, png[layout.Left, y]));
        Assert.All(Enumerable.Range(layout.Left, layout.PlotWidth), x => Assert.Equal(Rgb.Black, png[x, layout.Bottom]));
        // Tick labels are drawn left of the axis and below it.
        Assert.Contains(Enumerable.Range(0, layout.Left - 5), x => png[x, layout.PixelY(2.0)] == Rgb.Black);
        int x40 = layout.PixelX(40);
        Assert.Contains(Enumerable.Range(layout.Bottom + 6, 30), y => Enumerable.Range(x40 - 8, 17).Any(x => png[x, y] == Rgb.Black));
    }

    [Fact]
    public void NanLoss_BreaksTheLine()
    {
        var train = Enumerable.Range(0, 101).Select(s => ((long)s, s == 50 ? double.NaN : Line(s))).ToList();
        var canvas = LossPlot.Render(train, [], 800, 500, out var layout);
        int x49 = layout.PixelX(49), x51 = layout.PixelX(51);
        Assert.True(x51 - x49 >= 10, "points too close for the test");
        Assert.Equal(LossPlot.TrainColor, canvas[x49, layout.PixelY(Line(49))]);
        Assert.Equal(LossPlot.TrainColor, canvas[x51, layout.PixelY(Line(51))]);
        for (int x = x49 + 2; x <= x51 - 2; x++)
            for (int y = layout.Top; y < layout.Bottom; y++)
                Assert.NotEqual(LossPlot.TrainColor, canvas[x, y]);
    }

    [Fact]
    public void Save_FromMetrics_WritesDecodablePng_EvenWithOneOrNoFinitePoint()
    {
        using var dir = new TempDir();
        var path = dir.File("loss.png");
        LossPlot.Save(path, [new StepMetrics { Step = 3, Loss = 2.0, EvalLoss = 2.1 }], 400, 300);
        var png = PngTestDecoder.Decode(File.ReadAllBytes(path));
        Assert.Equal((400, 300), (png.Width, png.Height));

        LossPlot.Save(path, [new StepMetrics { Step = 3, Loss = double.NaN }]);
        Assert.Equal(800, PngTestDecoder.Decode(File.ReadAllBytes(path)).Width);
    }

    private static bool Near(PngTestDecoder png, int x, int y, Rgb color)
    {
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                if (png[x + dx, y + dy] == color) return true;
        return false;
    }
}
