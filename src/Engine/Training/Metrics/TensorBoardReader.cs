using Engine.Formats;

namespace Engine.Training.Metrics;

/// <summary>Reads event files written by <see cref="TensorBoardWriter"/> (or TensorBoard's own writers, as far as
/// simple scalars go), verifying both CRCs of every record.</summary>
internal static class TensorBoardReader
{
    public const string FilePattern = "events.out.tfevents.*";

    public static IReadOnlyList<TensorBoardEvent> ReadEvents(string path)
    {
        var records = TfRecord.ReadAll(path, ReadLiveFile(path));
        var events = new List<TensorBoardEvent>(records.Count);
        for (int i = 0; i < records.Count; i++)
            events.Add(TensorBoardEvent.Decode(records[i].Span, path, $"record {i}"));
        return events;
    }

    /// <summary>Reads a file that a writer may still hold open, as TensorBoard itself does.</summary>
    private static byte[] ReadLiveFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static IReadOnlyList<TensorBoardScalar> ReadScalars(string path)
    {
        var scalars = new List<TensorBoardScalar>();
        foreach (var e in ReadEvents(path))
            foreach (var (tag, value) in e.Scalars)
                scalars.Add(new TensorBoardScalar(e.WallTime, e.Step, tag, value));
        return scalars;
    }

    /// <summary>Scalars of every event file in a folder, files taken in name order (the name starts with the
    /// creation time in unix seconds, so that is also the order they were written in).</summary>
    public static IReadOnlyList<TensorBoardScalar> ReadFolder(string folder)
    {
        var files = Directory.GetFiles(folder, FilePattern);
        Array.Sort(files, StringComparer.Ordinal);
        return files.SelectMany(ReadScalars).ToList();
    }
}
