using Engine.Formats;

namespace Engine.Training.Metrics;

/// <summary>An RGB raster with the few drawing operations a plot needs. Every operation clips to the image, so callers
/// may draw partly outside it.</summary>
internal sealed class RgbCanvas
{
    public RgbCanvas(int width, int height, Rgb background)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"canvas size {width}x{height} must be positive");
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
        FillRect(0, 0, width, height, background);
    }

    public int Width { get; }
    public int Height { get; }
    /// <summary>Rows top to bottom, 3 bytes per pixel.</summary>
    public byte[] Pixels { get; }

    public Rgb this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    public void SetPixel(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = c.R;
        Pixels[i + 1] = c.G;
        Pixels[i + 2] = c.B;
    }

    public void FillRect(int x, int y, int width, int height, Rgb c)
    {
        int x0 = Math.Max(x, 0), y0 = Math.Max(y, 0);
        int x1 = Math.Min(x + width, Width), y1 = Math.Min(y + height, Height);
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) SetPixel(xx, yy, c);
    }

    /// <summary>Bresenham line stamped with a square brush of <paramref name="thickness"/> pixels whose top-left corner
    /// follows the line, so every pixel the thin line would set is set.</summary>
    public void DrawLine(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1)
    {
        // Lines far outside the image would make the loop long; plots never need them, so skip rather than clip.
        if (Math.Max(Math.Abs((long)x1 - x0), Math.Abs((long)y1 - y0)) > 4L * (Width + Height)) return;
        int dx = Math.Abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
        int dy = -Math.Abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
        int err = dx + dy;
        while (true)
        {
            FillRect(x0, y0, thickness, thickness, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Draws text in <see cref="BitmapFont5x7"/>, each font pixel a <paramref name="scale"/>-sized square;
    /// (x, y) is the top-left corner.</summary>
    public void DrawText(int x, int y, string text, Rgb c, int scale = 1)
    {
        foreach (char ch in text)
        {
            var rows = BitmapFont5x7.Glyph(ch);
            for (int row = 0; row < BitmapFont5x7.GlyphHeight; row++)
                for (int col = 0; col < BitmapFont5x7.GlyphWidth; col++)
                    if ((rows[row] & (1 << (BitmapFont5x7.GlyphWidth - 1 - col))) != 0)
                        FillRect(x + col * scale, y + row * scale, scale, scale, c);
            x += BitmapFont5x7.Advance * scale;
        }
    }

    public byte[] EncodePng() => PngEncoder.EncodeRgb(Pixels, Width, Height);
}
