namespace Engine.Backends;

/// <summary>Hands out 64-byte-aligned pieces of large <see cref="HostMemory"/> chunks (64 MiB, or one piece's size
/// when larger), so many weights share huge pages instead of each rounding up to its own 2 MiB. Frees every chunk on
/// dispose: the weights taken from it must not outlive it (the model owns both).</summary>
internal sealed unsafe class HostArena : IDisposable
{
    private const long ChunkBytes = 64L << 20;
    private const int Align = 64;
    private readonly List<nint> _chunks = new();
    private byte* _next;
    private long _left;

    /// <summary>Bytes handed out so far (alignment padding included).</summary>
    public long Used { get; private set; }

    public byte* Take(long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long size = (bytes + Align - 1) / Align * Align;
        if (size > _left)
        {
            long chunk = Math.Max(ChunkBytes, size);
            _next = HostMemory.Allocate(chunk);
            _chunks.Add((nint)_next);
            _left = chunk;
        }
        var p = _next;
        _next += size;
        _left -= size;
        Used += size;
        return p;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var c in _chunks) HostMemory.Free((byte*)c);
        _chunks.Clear();
    }
}
