using ILGPU;
using ILGPU.Runtime;

namespace Engine.Backends.Cuda;

/// <summary>One device allocation of a size class, handed out by <see cref="CachingAllocator"/>.</summary>
internal sealed class DeviceBlock
{
    public DeviceBlock(MemoryBuffer1D<byte, Stride1D.Dense> buffer, long sizeClass)
    {
        Buffer = buffer;
        SizeClass = sizeClass;
    }

    public MemoryBuffer1D<byte, Stride1D.Dense> Buffer { get; }
    public long SizeClass { get; }
    public ArrayView<byte> View => Buffer.View;
    /// <summary>The device address (a CUdeviceptr on CUDA) for native libraries.</summary>
    public IntPtr DevicePointer => Buffer.NativePtr;
}
