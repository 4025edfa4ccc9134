using ILGPU;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>Device memory of an <see cref="IlgpuBackend"/> tensor: a block from the caching allocator, returned to it
/// when the last handle is disposed.</summary>
internal sealed class IlgpuStorage : Storage
{
    private readonly CachingAllocator _allocator;

    public IlgpuStorage(IlgpuBackend owner, CachingAllocator allocator, DType dtype, long length, DeviceBlock block)
        : base(owner, dtype, length)
    {
        _allocator = allocator;
        Block = block;
    }

    public DeviceBlock Block { get; }

    /// <summary>The bytes of elements [offset, offset + count).</summary>
    public ArrayView<byte> Bytes(long offset, long count)
    {
        long size = DType.SizeInBytes();
        return Block.View.SubView(offset * size, count * size);
    }

    public IntPtr DevicePointer(long offset) => Block.DevicePointer + (nint)(offset * DType.SizeInBytes());

    protected override void Free() => _allocator.Return(Block);
}
