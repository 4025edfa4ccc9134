namespace Engine.Tokenizers;

/// <summary>GPT-2's byte-level alphabet (bytes_to_unicode): every byte as one printable character, so that byte-level
/// BPE vocabularies (Llama 3, Qwen, GPT-2) store any byte string as text. Printable Latin-1 bytes ('!'..'~',
/// '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes map, in order, to U+0100 onwards (space is 'Ġ').</summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character of each byte.</summary>
    public static readonly char[] CharOf = Build();

    /// <summary>The byte of each character below U+0180, or -1 for a character that stands for no byte.</summary>
    private static readonly short[] ByteOf = BuildInverse();

    private static char[] Build()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildInverse()
    {
        var inverse = new short[0x180];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[CharOf[b]] = (short)b;
        return inverse;
    }

    /// <summary>The byte a character stands for, or -1.</summary>
    public static int ToByte(char c) => c < ByteOf.Length ? ByteOf[c] : -1;
}
