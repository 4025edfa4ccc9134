using System.Text;

namespace Engine.Data;

/// <summary>Splits a .txt file into text samples. When any line is exactly <c>&lt;|endoftext|&gt;</c> (surrounding
/// whitespace ignored), those lines are the only separators, so blank lines inside a document stay in it (TinyStories
/// and GPT-2 style dumps). Otherwise blocks are separated by one or more blank lines. Blocks are trimmed; empty ones
/// are dropped. Files are streamed in two passes (the first looks for the marker); a line or a block may not exceed
/// <see cref="DataInput.MaxRecordBytes"/> characters.</summary>
internal static class PlainTextReader
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The blocks of text already in memory.</summary>
    public static List<TextSample> Read(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        return Blocks(null, lines, lines.Any(IsMarker)).ToList();
    }

    /// <summary>The blocks of the file that <paramref name="open"/> opens (called twice), one at a time.</summary>
    public static IEnumerable<TextSample> Read(string path, Func<Stream> open)
    {
        bool byMarker;
        using (var first = open()) byMarker = Lines(path, first).Any(IsMarker);
        using var second = open();
        foreach (var s in Blocks(path, Lines(path, second), byMarker)) yield return s;
    }

    private static bool IsMarker(string line) => line.AsSpan().Trim().SequenceEqual(EndOfText);

    /// <summary>Lines split as <see cref="string.ReplaceLineEndings()"/> does: CR, LF, CRLF, NEL, LS, FF, PS.</summary>
    private static IEnumerable<string> Lines(string path, Stream stream)
    {
        var reader = new StrictUtf8CharReader(stream, path);
        var line = new StringBuilder();
        long number = 1;
        while (true)
        {
            int c = reader.Read();
            if (c < 0) break;
            if (c is '\n' or '\r' or '\f' or '\u0085' or '\u2028' or '\u2029')
            {
                if (c == '\r' && reader.Peek() == '\n') reader.Read();
                if (c is '\n' or '\r') number++;
                yield return line.ToString();
                line.Clear();
                continue;
            }
            if (line.Length >= DataInput.MaxRecordBytes)
                throw new DataFormatException(path, null, null, null,
                    $"line {number} is longer than {DataInput.MaxRecordText}; no line or text block may be that large");
            line.Append((char)c);
        }
        yield return line.ToString();
    }

    private static IEnumerable<TextSample> Blocks(string? path, IEnumerable<string> lines, bool byMarker)
    {
        var block = new StringBuilder();
        int count = 0;
        foreach (var line in lines)
        {
            bool separator = byMarker ? IsMarker(line) : string.IsNullOrWhiteSpace(line);
            if (separator)
            {
                if (Flush() is TextSample s) yield return s;
                continue;
            }
            if (block.Length > 0) block.Append('\n');
            block.Append(line);
            if (block.Length > DataInput.MaxRecordBytes && path is not null)
                throw new DataFormatException(path, count, null, null,
                    $"the text block is longer than {DataInput.MaxRecordText}; separate documents with blank lines or <|endoftext|> lines");
        }
        if (Flush() is TextSample last) yield return last;

        TextSample? Flush()
        {
            var s = block.ToString().Trim();
            block.Clear();
            if (s.Length == 0) return null;
            return new TextSample(count++, null, s);
        }
    }
}
