using System.Runtime.InteropServices;

namespace Engine.Backends;

/// <summary>Native host memory for weights the CPU streams once per token (GGUF block weights during decode): aligned
/// to 2 MiB and, on Linux, advised for transparent huge pages, so a GEMV over gigabytes walks few page-table entries.
/// Also drops this process's pages of a read-only file mapping once they have been copied, so the copy does not count
/// twice in the resident set.</summary>
internal static unsafe partial class HostMemory
{
    /// <summary>The huge page size of x86-64 and arm64 Linux, used as the alignment.</summary>
    public const int HugePageBytes = 2 << 20;

    private const int MadvDontNeed = 4, MadvHugePage = 14;

    /// <summary>Uninitialized memory of at least <paramref name="bytes"/> bytes; free it with <see cref="Free"/>.</summary>
    public static byte* Allocate(long bytes)
    {
        if (bytes <= 0) throw new ArgumentOutOfRangeException(nameof(bytes), $"cannot allocate {bytes} bytes");
        nuint size = (nuint)((bytes + HugePageBytes - 1) / HugePageBytes * HugePageBytes);
        byte* p;
        try { p = (byte*)NativeMemory.AlignedAlloc(size, HugePageBytes); }
        catch (OutOfMemoryException e) { throw new EngineException($"out of host memory: {bytes:N0} bytes for a weight could not be allocated", e); }
        if (OperatingSystem.IsLinux()) _ = Madvise((nint)p, size, MadvHugePage); // advice only: no huge pages is still correct
        return p;
    }

    public static void Free(byte* p) => NativeMemory.AlignedFree(p);

    /// <summary>Tells the kernel this process no longer needs the whole pages inside [p, p + bytes) of a read-only
    /// mapping (Linux: they leave the resident set and stay in the page cache; reading them again maps them back).</summary>
    public static void Release(byte* p, long bytes)
    {
        if (!OperatingSystem.IsLinux() || bytes <= 0) return;
        long page = Environment.SystemPageSize;
        long start = ((long)p + page - 1) / page * page, end = ((long)p + bytes) / page * page;
        if (end > start) _ = Madvise((nint)start, (nuint)(end - start), MadvDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint addr, nuint length, int advice);
}
