using System.Text;

namespace Engine.Data;

/// <summary>Splits a .txt file into text samples. When any line is exactly <c>&lt;|endoftext|&gt;</c> (surrounding
/// whitespace ignored), those lines are the only separators, so blank lines inside a document stay in it (TinyStories
/// and GPT-2 style dumps). Otherwise blocks are separated by one or more blank lines. Blocks are trimmed; empty ones
/// are dropped.</summary>
internal static class PlainTextReader
{
    public const string EndOfText = "<|endoftext|>";

    public static List<TextSample> Read(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        bool byMarker = lines.Any(l => l.Trim() == EndOfText);
        var samples = new List<TextSample>();
        var block = new StringBuilder();
        foreach (var line in lines)
        {
            bool separator = byMarker ? line.Trim() == EndOfText : string.IsNullOrWhiteSpace(line);
            if (separator) { Flush(); continue; }
            if (block.Length > 0) block.Append('\n');
            block.Append(line);
        }
        Flush();
        return samples;

        void Flush()
        {
            var s = block.ToString().Trim();
            block.Clear();
            if (s.Length > 0) samples.Add(new TextSample(samples.Count, null, s));
        }
    }
}
