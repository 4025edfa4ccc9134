namespace Engine.Tokenizers;

/// <summary>Text being normalized, with the input span [StartOf(i), EndOf(i)) (UTF-16 indices into the string passed
/// to Encode) of every char; a surrogate pair's two chars both map to the whole pair. Inserted chars (a prepended "▁")
/// have an empty span at the position they were inserted. Text that no normalizer changed keeps no arrays: its chars
/// map to themselves, shifted by the offset of the part of the input it is.</summary>
internal sealed class HfNormalizedText
{
    private readonly int _offset;
    private readonly int[]? _start, _end;

    public HfNormalizedText(string text, int[] start, int[] end)
    {
        Text = text;
        _start = start;
        _end = end;
    }

    private HfNormalizedText(string text, int offset)
    {
        Text = text;
        _offset = offset;
    }

    public string Text { get; }

    public int StartOf(int i)
    {
        if (_start is not null) return _start[i];
        return i > 0 && char.IsLowSurrogate(Text[i]) && char.IsHighSurrogate(Text[i - 1]) ? _offset + i - 1 : _offset + i;
    }

    public int EndOf(int i)
    {
        if (_end is not null) return _end[i];
        return i + 1 < Text.Length && char.IsHighSurrogate(Text[i]) && char.IsLowSurrogate(Text[i + 1]) ? _offset + i + 2 : _offset + i + 1;
    }

    /// <summary>Part [offset, offset+length) of <paramref name="input"/>, each char mapping to itself.</summary>
    public static HfNormalizedText Of(string input, int offset, int length) =>
        new(offset == 0 && length == input.Length ? input : input.Substring(offset, length), offset);
}
