namespace Engine.Training.Metrics;

/// <summary>One line of a JSONL file: bytes [Start, End) including its '\n' when <see cref="Terminated"/>;
/// <see cref="Number"/> counts from 1 for error messages.</summary>
internal readonly record struct JsonlLine(int Start, int End, int Number, bool Terminated)
{
    public int Length => End - Start;

    public bool IsBlank(byte[] content) => content.AsSpan(Start, Length).Trim(" \t\r\n"u8).IsEmpty;

    public static IEnumerable<JsonlLine> Split(byte[] content)
    {
        int number = 0;
        for (int start = 0; start < content.Length;)
        {
            int nl = Array.IndexOf(content, (byte)'\n', start);
            int end = nl < 0 ? content.Length : nl + 1;
            yield return new JsonlLine(start, end, ++number, nl >= 0);
            start = end;
        }
    }
}
