using System.Globalization;
using System.Runtime.InteropServices;

namespace Engine.Formats;

/// <summary>Writes a file so that readers see either the old file or the complete new one: the bytes go to a temporary
/// file in the same folder (same file system, so the rename is atomic), are flushed to disk, then renamed over the
/// target and the folder is fsynced so the rename itself survives a power cut. On any failure the temporary file is
/// removed and the target is left as it was. <see cref="WriteFolder"/> does the same for a set of files (a PEFT
/// adapter, an HF model folder).</summary>
internal static partial class AtomicFile
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
        FsyncDirectory(dir);
    }

    /// <summary>The marker in the names of temporary folders: <c>{name}.tmp-{pid}</c>.</summary>
    public const string TempMarker = ".tmp-";

    /// <summary>Writes a multi-file output (adapter_config.json + adapter_model.safetensors, or config.json + shards +
    /// generation_config.json + tokenizer files) so that no reader sees new weights beside an old config.
    /// <para>When <paramref name="dir"/> does not exist or is empty, the files are written into the sibling folder
    /// <c>{dir}.tmp-{pid}</c>, fsynced, and that folder is renamed to <paramref name="dir"/> as a whole.</para>
    /// <para>When <paramref name="dir"/> already holds other things (a training output folder with checkpoints and
    /// metrics, or an earlier model), it cannot be swapped as a whole, so the files go to <c>{dir}/.save.tmp-{pid}/</c>
    /// first and, only once every one of them is complete and on disk, each is renamed into <paramref name="dir"/>.
    /// No completion marker is written: PEFT and transformers would not honour one, the window in which a crash pairs
    /// old and new files shrinks to a few renames of complete files, and a crash before them leaves only the staging
    /// folder, which <see cref="RemoveStale"/> deletes at the next run.</para></summary>
    /// <param name="write">Writes the files into the folder it is given.</param>
    /// <param name="obsolete">In the second case, files of <paramref name="dir"/> that an earlier save of another
    /// layout left (say old shards) and that the new set replaces: removed after the new files are in place.</param>
    public static void WriteFolder(string dir, Action<string> write, Func<string, bool>? obsolete = null)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(dir));
        var parent = System.IO.Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(parent);
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        bool whole = !Directory.Exists(full) || !Directory.EnumerateFileSystemEntries(full).Any();
        string staging = whole ? full + TempMarker + pid : System.IO.Path.Combine(full, ".save" + TempMarker + pid);
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        try
        {
            write(staging);
            foreach (var f in Directory.GetFiles(staging)) FsyncFile(f);
            FsyncDirectory(staging);
            if (whole)
            {
                if (Directory.Exists(full)) Directory.Delete(full); // empty (checked above)
                Directory.Move(staging, full);
                FsyncDirectory(parent);
            }
            else
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var f in Directory.GetFiles(staging))
                {
                    names.Add(System.IO.Path.GetFileName(f));
                    File.Move(f, System.IO.Path.Combine(full, System.IO.Path.GetFileName(f)), overwrite: true);
                }
                if (obsolete is not null)
                    foreach (var f in Directory.GetFiles(full))
                        if (!names.Contains(System.IO.Path.GetFileName(f)) && obsolete(System.IO.Path.GetFileName(f))) File.Delete(f);
                FsyncDirectory(full);
                Directory.Delete(staging, recursive: true);
            }
        }
        catch
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Removes temporary folders and files (<c>*.tmp-{pid}</c>, <c>*.old-{pid}</c>) in <paramref name="dir"/>
    /// left by a process that no longer runs (killed during a save). The current process's own pid counts as dead:
    /// this runs before any save, and in a container every run may get the same pid. Returns the removed paths.</summary>
    public static IReadOnlyList<string> RemoveStale(string dir)
    {
        var removed = new List<string>();
        if (!Directory.Exists(dir)) return removed;
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            var name = System.IO.Path.GetFileName(entry);
            int pid = StalePid(name);
            if (pid <= 0 || (pid != Environment.ProcessId && Alive(pid))) continue;
            try
            {
                if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                else File.Delete(entry);
                removed.Add(entry);
            }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>The pid in a temporary name <c>….tmp-{pid}</c> or <c>….old-{pid}</c>; 0 when the name is not one.</summary>
    internal static int StalePid(string name)
    {
        foreach (var marker in new[] { TempMarker, ".old-" })
        {
            int at = name.LastIndexOf(marker, StringComparison.Ordinal);
            if (at > 0 && int.TryParse(name.AsSpan(at + marker.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                return pid;
        }
        return 0;
    }

    private static bool Alive(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists("/proc/" + pid.ToString(CultureInfo.InvariantCulture));
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>Flushes a file's bytes to disk.</summary>
    public static void FsyncFile(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        f.Flush(flushToDisk: true);
    }

    /// <summary>Flushes a folder's entries (renames, new files) to disk: open the directory and fsync it (Linux, macOS).
    /// Windows has no directory fsync (NTFS journals renames), so there it does nothing; on Unix a failure is ignored
    /// only where the file system does not support it (EINVAL, ENOTSUP), anything else is an error.</summary>
    public static void FsyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Open(dir, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            throw new IOException($"{dir}: cannot open the folder to sync it (errno {e})");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                int e = Marshal.GetLastPInvokeError();
                if (e is 22 /* EINVAL */ or 95 /* ENOTSUP, Linux */ or 45 /* ENOTSUP, macOS */) return;
                throw new IOException($"{dir}: fsync of the folder failed (errno {e})");
            }
        }
        finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

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
