namespace Engine;

/// <summary>An error caused by the user's input (a file, a flag, a dataset) rather than by a bug. The CLI prints its
/// message as one line and exits non-zero; the message must say which file and field, and what was expected.</summary>
public class EngineException : Exception
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A malformed or unsupported file: "{path}: {what}: {problem}".</summary>
public class FileFormatException : EngineException
{
    public FileFormatException(string path, string what, string problem)
        : base($"{path}: {what}: {problem}")
    {
        FilePath = path;
        What = what;
    }

    public FileFormatException(string path, string what, string problem, Exception inner)
        : base($"{path}: {what}: {problem}", inner)
    {
        FilePath = path;
        What = what;
    }

    public string FilePath { get; }
    /// <summary>The field, tensor, record or header part the problem is in.</summary>
    public string What { get; }
}
