namespace Engine.Tokenizers;

/// <summary>A piece of normalized text on its way to the model. Char i of <see cref="Text"/> came from normalized
/// char <see cref="SourceOf"/>(i), or from none (-1: inserted, such as a prefix space).</summary>
internal readonly record struct HfPreToken(string Text, int Offset, int[]? Src)
{
    public int SourceOf(int i) => Src is null ? Offset + i : Src[i];

    public HfPreToken Slice(int start, int length)
    {
        if (start == 0 && length == Text.Length) return this;
        return Src is null
            ? new HfPreToken(Text.Substring(start, length), Offset + start, null)
            : new HfPreToken(Text.Substring(start, length), 0, Src.AsSpan(start, length).ToArray());
    }
}
