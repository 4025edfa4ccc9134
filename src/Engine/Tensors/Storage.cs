namespace Engine.Tensors;

/// <summary>A block of device memory owned by a backend, shared by every tensor view over it.
/// Reference counted: each <see cref="Tensor"/> handle holds one reference; the memory returns to the backend's pool
/// when the last handle is disposed. This is what lets backward release saved activations as soon as it has used them.</summary>
internal abstract class Storage
{
    private int _refs = 1;

    protected Storage(IDevice device, DType dtype, long length)
    {
        Device = device;
        DType = dtype;
        Length = length;
    }

    public IDevice Device { get; }
    public DType DType { get; }
    /// <summary>Number of elements.</summary>
    public long Length { get; }
    public long ByteLength => Length * DType.SizeInBytes();
    public bool IsFreed => Volatile.Read(ref _refs) <= 0;

    /// <summary>True when exactly one handle holds this storage (so its holder may overwrite it unobserved).</summary>
    internal bool IsExclusive => Volatile.Read(ref _refs) == 1;

    internal void Retain()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "retained a storage that was already freed");
    }

    internal void Release()
    {
        var left = Interlocked.Decrement(ref _refs);
        if (left == 0) Free();
        else if (left < 0) throw new ObjectDisposedException(nameof(Storage), "released a storage more often than retained");
    }

    /// <summary>Give the memory back to the owning backend.</summary>
    protected abstract void Free();
}
