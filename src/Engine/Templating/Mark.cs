namespace Engine.Templating;

/// <summary>Characters [Start, Start+Length) of a rendered string that came from a marked input string (a chat
/// message's content); <see cref="Owner"/> says which (the message index the caller gave).</summary>
internal readonly record struct Mark(int Start, int Length, int Owner)
{
    public int End => Start + Length;
}

/// <summary>What <see cref="JinjaTemplate.Render"/> produced: the text and the marked ranges in it (sorted, disjoint;
/// adjacent ranges of the same owner are merged).</summary>
internal sealed record RenderedText(string Text, IReadOnlyList<Mark> Marks);
