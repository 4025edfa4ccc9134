using System.Text;

namespace Engine.Templating;

/// <summary>A template string value that remembers which of its characters came from a marked input (taint tracking).
/// Operations that keep characters (concatenation, slicing, strip/trim, split, join, replace's untouched parts,
/// indent) keep their marks; operations that write new text (tojson, format, repr, number→string) carry none;
/// case changes (upper, lower, title, capitalize) keep the marks when the length is unchanged, else drop them.</summary>
internal sealed class MarkedString : IEquatable<MarkedString>
{
    public static readonly MarkedString Empty = new("", []);

    public MarkedString(string text, Mark[] marks)
    {
        Text = text;
        Marks = marks;
    }

    public string Text { get; }
    /// <summary>Sorted, disjoint, within the text.</summary>
    public Mark[] Marks { get; }
    public int Length => Text.Length;

    public static MarkedString Plain(string text) => text.Length == 0 ? Empty : new(text, []);

    public static MarkedString Owned(string text, int owner) =>
        text.Length == 0 ? Empty : new(text, [new Mark(0, text.Length, owner)]);

    /// <summary>Characters [start, start+length) with their marks.</summary>
    public MarkedString Substring(int start, int length)
    {
        if (start == 0 && length == Text.Length) return this;
        if (length == 0) return Empty;
        var b = new MarkedBuilder();
        b.Append(this, start, length);
        return b.ToMarked();
    }

    public static MarkedString Concat(MarkedString a, MarkedString b)
    {
        if (a.Length == 0) return b;
        if (b.Length == 0) return a;
        var sb = new MarkedBuilder();
        sb.Append(a);
        sb.Append(b);
        return sb.ToMarked();
    }

    /// <summary>The same marks over a new text of the same length (case changes), or no marks when it differs.</summary>
    public MarkedString WithText(string text) => text.Length == Text.Length ? new(text, Marks) : Plain(text);

    public bool Equals(MarkedString? other) => other is not null && other.Text == Text;
    public override bool Equals(object? obj) => obj is MarkedString m && Equals(m);
    public override int GetHashCode() => Text.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => Text;
}

/// <summary>Builds a string with marks: the render output, a captured block, a joined or replaced string.</summary>
internal sealed class MarkedBuilder
{
    private readonly StringBuilder _text = new();
    private readonly List<Mark> _marks = new();

    public int Length => _text.Length;

    public void Append(string text) => _text.Append(text);

    public void Append(MarkedString s) => Append(s, 0, s.Length);

    public void Append(MarkedString s, int start, int length)
    {
        if (length <= 0) return;
        int offset = _text.Length - start, end = start + length;
        foreach (var m in s.Marks)
        {
            int a = Math.Max(m.Start, start), b = Math.Min(m.End, end);
            if (a < b) AddMark(new Mark(a + offset, b - a, m.Owner));
        }
        _text.Append(s.Text, start, length);
    }

    private void AddMark(Mark m)
    {
        if (_marks.Count > 0 && _marks[^1] is var last && last.Owner == m.Owner && last.End == m.Start)
            _marks[^1] = last with { Length = last.Length + m.Length };
        else _marks.Add(m);
    }

    public MarkedString ToMarked() => _text.Length == 0 ? MarkedString.Empty : new(_text.ToString(), _marks.ToArray());

    public RenderedText ToRendered() => new(_text.ToString(), _marks.ToArray());
}
