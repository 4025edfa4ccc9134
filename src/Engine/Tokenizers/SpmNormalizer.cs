namespace Engine.Tokenizers;

/// <summary>SentencePiece's whitespace normalization (the identity rule set): optionally drops leading/trailing spaces
/// and collapses runs of spaces, escapes ' ' as '▁' and prepends the dummy-prefix '▁' to non-empty text. Keeps, for
/// every normalized char, the index of the input char it came from so that token spans point into the input.</summary>
internal static class SpmNormalizer
{
    public const char Space = '▁';

    /// <param name="origin">For each normalized char, its input index; -1 for the dummy prefix.</param>
    public static string Normalize(string text, bool addDummyPrefix, bool removeExtraWhitespaces, out int[] origin)
    {
        int prefix = addDummyPrefix ? 1 : 0;
        if (!removeExtraWhitespaces)
        {
            if (text.Length == 0) { origin = []; return ""; }
            origin = new int[text.Length + prefix];
            var chars = new char[text.Length + prefix];
            if (addDummyPrefix) { chars[0] = Space; origin[0] = -1; }
            for (int i = 0; i < text.Length; i++)
            {
                chars[i + prefix] = text[i] == ' ' ? Space : text[i];
                origin[i + prefix] = i;
            }
            return new string(chars);
        }

        var buf = new char[text.Length + prefix];
        var org = new int[text.Length + prefix];
        int n = prefix;
        bool pendingSpace = false;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                // A run of spaces becomes one space, emitted only if text follows (drops trailing spaces); leading spaces
                // are dropped because nothing has been written yet.
                if (n > prefix && !pendingSpace) { pendingSpace = true; org[n] = i; }
                continue;
            }
            if (pendingSpace) { buf[n++] = Space; pendingSpace = false; }
            buf[n] = text[i];
            org[n++] = i;
        }
        if (n == prefix) { origin = []; return ""; }
        if (addDummyPrefix) { buf[0] = Space; org[0] = -1; }
        origin = org.AsSpan(0, n).ToArray();
        return new string(buf, 0, n);
    }
}
