namespace Engine.Tokenizers;

/// <summary>Text being normalized, with the input span [Start[i], End[i]) (UTF-16 indices into the string passed to
/// Encode) of every char. Inserted chars (a prepended "▁") have an empty span at the position they were inserted.</summary>
internal sealed class HfNormalizedText
{
    public HfNormalizedText(string text, int[] start, int[] end)
    {
        Text = text;
        Start = start;
        End = end;
    }

    public string Text { get; }
    public int[] Start { get; }
    public int[] End { get; }

    /// <summary>Part [offset, offset+length) of <paramref name="input"/>, each char mapping to itself; a surrogate
    /// pair's two chars both map to the whole pair.</summary>
    public static HfNormalizedText Of(string input, int offset, int length)
    {
        var start = new int[length];
        var end = new int[length];
        for (int i = 0; i < length; i++)
        {
            int at = offset + i;
            if (char.IsHighSurrogate(input[at]) && i + 1 < length && char.IsLowSurrogate(input[at + 1]))
            {
                start[i] = start[i + 1] = at;
                end[i] = end[i + 1] = at + 2;
                i++;
            }
            else
            {
                start[i] = at;
                end[i] = at + 1;
            }
        }
        return new HfNormalizedText(input.Substring(offset, length), start, end);
    }
}
