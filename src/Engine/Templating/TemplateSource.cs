namespace Engine.Templating;

/// <summary>A template's text (newlines normalized to "\n", one trailing newline dropped, as jinja2 does by default)
/// and its name for messages; turns offsets into line:column and builds the errors.</summary>
internal sealed class TemplateSource
{
    private readonly int[] _lineStarts;

    public TemplateSource(string name, string text)
    {
        Name = name;
        text = text.Replace("\r\n", "\n").Replace('\r', '\n');
        if (text.EndsWith('\n')) text = text[..^1];
        Text = text;
        var starts = new List<int> { 0 };
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') starts.Add(i + 1);
        _lineStarts = starts.ToArray();
    }

    public string Name { get; }
    public string Text { get; }

    public (int Line, int Column) Locate(int pos)
    {
        int i = Array.BinarySearch(_lineStarts, pos);
        if (i < 0) i = ~i - 1;
        return (i + 1, pos - _lineStarts[i] + 1);
    }

    /// <summary>"name:line:col: message".</summary>
    public EngineException Error(int pos, string message)
    {
        var (line, col) = Locate(pos);
        return new EngineException($"chat template {Name}:{line}:{col}: {message}");
    }
}
