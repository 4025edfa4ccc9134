using Engine.Data;

namespace Engine.Api;

/// <summary>Text files split into blocks, as <c>engine eval</c> scores them.</summary>
public static class TextBlocks
{
    /// <summary>The blocks of a text file: separated by &lt;|endoftext|&gt; lines when the file has them (how TinyStories
    /// files are laid out), otherwise by blank lines. The file must be UTF-8: invalid bytes are an error naming the line
    /// and offset, never replaced.</summary>
    public static IReadOnlyList<string> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path)) throw new EngineException($"--text {path}: is a folder; expected a text file");
        if (!File.Exists(path)) throw new EngineException($"--text {path}: no such file");
        var blocks = PlainTextReader.Read(path, () => DataInput.Open(path)).Select(s => s.Text).ToList();
        if (blocks.Count == 0) throw new EngineException($"{path}: no text to score (the file is empty)");
        return blocks;
    }
}
