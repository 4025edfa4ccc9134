namespace Engine.Formats;

/// <summary>Writes a file so that readers see either the old file or the complete new one: the bytes go to a temporary
/// file in the same folder (same file system, so the rename is atomic), are flushed to disk, then renamed over the
/// target. On any failure the temporary file is removed and the target is left as it was.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<FileStream> write)
    {
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Runs a tensor's writer callback and checks it wrote exactly <paramref name="bytes"/> bytes, so a wrong
    /// callback cannot shift every later tensor.</summary>
    public static void WriteExactly(Stream s, long bytes, Action<Stream> write, string what)
    {
        long before = s.Position;
        write(s);
        long wrote = s.Position - before;
        if (wrote != bytes)
            throw new InvalidOperationException($"{what}: the writer callback wrote {wrote} bytes; {bytes} are needed");
    }
}
