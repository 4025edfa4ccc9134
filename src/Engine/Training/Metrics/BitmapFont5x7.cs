namespace Engine.Training.Metrics;

/// <summary>A 5x7 bitmap font with just what plot labels use: digits, '.', '-', '+', 'e' (numbers such as 1.5e-4) and
/// the lower-case letters of "step", "loss", "train", "eval". Other characters draw as blanks.</summary>
internal static class BitmapFont5x7
{
    public const int GlyphWidth = 5;
    public const int GlyphHeight = 7;
    /// <summary>Horizontal distance between glyph origins: the glyph plus one column of spacing.</summary>
    public const int Advance = GlyphWidth + 1;

    private static readonly byte[] Blank = new byte[GlyphHeight];

    // Each row is 5 bits, most significant bit the leftmost pixel; rows top to bottom.
    private static readonly Dictionary<char, byte[]> Glyphs = new()
    {
        ['0'] = [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
        ['1'] = [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        ['2'] = [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
        ['3'] = [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
        ['4'] = [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
        ['5'] = [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
        ['6'] = [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
        ['7'] = [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
        ['8'] = [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
        ['9'] = [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
        ['.'] = [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100],
        ['-'] = [0b00000, 0b00000, 0b00000, 0b01110, 0b00000, 0b00000, 0b00000],
        ['+'] = [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000],
        ['e'] = [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110],
        ['s'] = [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110],
        ['t'] = [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110],
        ['p'] = [0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000],
        ['l'] = [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        ['o'] = [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110],
        ['a'] = [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111],
        ['r'] = [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000],
        ['i'] = [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110],
        ['n'] = [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001],
        ['v'] = [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
    };

    public static bool HasGlyph(char c) => Glyphs.ContainsKey(c);

    /// <summary>The 7 row masks of a character (all zero when the font lacks it).</summary>
    public static ReadOnlySpan<byte> Glyph(char c) => Glyphs.TryGetValue(c, out var rows) ? rows : Blank;

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/>, without the trailing spacing
    /// column.</summary>
    public static int MeasureWidth(string text, int scale = 1) => text.Length == 0 ? 0 : (text.Length * Advance - 1) * scale;
}
