namespace Engine.Backends;

/// <summary>Hands out 64-byte-aligned pieces of large <see cref="HostMemory"/> chunks (64 MiB, or one piece's size
/// when larger), so many weights share huge pages instead of each rounding up to its own 2 MiB. A piece goes to the
/// first chunk with room for it (first fit), so a chunk's tail is not abandoned when one piece does not fit: every
/// abandoned tail left its partly written last huge page committed, about 9 MiB over TinyLlama's 607 MiB of
/// weights. Frees every chunk on dispose: the weights taken from it must not outlive it (the model owns both).</summary>
internal sealed unsafe class HostArena : IDisposable
{
    private const long ChunkBytes = 64L << 20;
    private const int Align = 64;
    private readonly List<nint> _chunks = new();
    private readonly List<(nint Next, long Left)> _free = new();

    /// <summary>Bytes handed out so far (alignment padding included).</summary>
    public long Used { get; private set; }

    public byte* Take(long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long size = (bytes + Align - 1) / Align * Align;
        int at = _free.FindIndex(f => f.Left >= size);
        if (at < 0)
        {
            long chunk = Math.Max(ChunkBytes, size);
            var fresh = HostMemory.Allocate(chunk);
            _chunks.Add((nint)fresh);
            _free.Add(((nint)fresh, chunk));
            at = _free.Count - 1;
        }
        var (next, left) = _free[at];
        _free[at] = (next + (nint)size, left - size);
        Used += size;
        return (byte*)next;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var c in _chunks) HostMemory.Free((byte*)c);
        _chunks.Clear();
        _free.Clear();
    }
}
