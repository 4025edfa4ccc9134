namespace Engine;

/// <summary>An error caused by the user's input (a file, a flag, a dataset) rather than by a bug. The CLI prints its
/// message as one line and exits non-zero; the message must say which file and field, and what was expected.</summary>
public class EngineException : Exception
{
    /// <summary>An error with its one-line message.</summary>
    public EngineException(string message) : base(message) { }
    /// <summary>An error with its one-line message and the failure behind it.</summary>
    public EngineException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A malformed or unsupported file: "{path}: {what}: {problem}".</summary>
public class FileFormatException : EngineException
{
    /// <summary>A problem with <paramref name="what"/> (a field, tensor or record) of the file at <paramref name="path"/>.</summary>
    public FileFormatException(string path, string what, string problem)
        : base($"{path}: {what}: {problem}")
    {
        FilePath = path;
        What = what;
    }

    /// <summary>The same, with the failure behind it.</summary>
    public FileFormatException(string path, string what, string problem, Exception inner)
        : base($"{path}: {what}: {problem}", inner)
    {
        FilePath = path;
        What = what;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }
    /// <summary>The field, tensor, record or header part the problem is in.</summary>
    public string What { get; }
}
