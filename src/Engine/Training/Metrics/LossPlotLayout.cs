namespace Engine.Training.Metrics;

/// <summary>Where the plot area sits in the image and which data ranges its edges stand for.</summary>
internal sealed record LossPlotLayout(int Left, int Top, int PlotWidth, int PlotHeight, AxisTicks X, AxisTicks Y)
{
    public int Right => Left + PlotWidth;
    public int Bottom => Top + PlotHeight;

    public int PixelX(double step) => Left + (int)Math.Round((step - X.Min) / (X.Max - X.Min) * PlotWidth);

    /// <summary>Image rows grow downwards, so larger losses map to smaller y.</summary>
    public int PixelY(double loss) => Bottom - (int)Math.Round((loss - Y.Min) / (Y.Max - Y.Min) * PlotHeight);
}
