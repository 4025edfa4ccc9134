using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>Host↔device copies through one pinned, page-locked staging buffer: the driver copies page-locked memory by
/// DMA at full PCIe speed, where pageable memory goes through its own bounce buffer at a fraction of it. dtype
/// conversions (fp32 → bf16 on upload, back on download) happen in the staging buffer chunk by chunk, with the same
/// rounding as the CPU backend (Engine.Tensors.HalfConversions). Copies are synchronous.
/// Performance work due: double-buffer the chunks so conversion overlaps the copy.</summary>
internal sealed class HostStaging : IDisposable
{
    public const int ChunkBytes = 8 << 20;

    private readonly AcceleratorStream _stream;
    private readonly byte[] _buffer;
    private readonly PageLockScope<byte>? _pageLock;

    public HostStaging(Accelerator accelerator, AcceleratorStream stream, bool pageLock)
    {
        _stream = stream;
        _buffer = GC.AllocateUninitializedArray<byte>(ChunkBytes, pinned: true);
        if (pageLock) _pageLock = accelerator.CreatePageLockFromPinned(_buffer);
    }

    public void Upload(ArrayView<byte> dst, ReadOnlySpan<byte> src)
    {
        for (int off = 0; off < src.Length; off += ChunkBytes)
        {
            int n = Math.Min(ChunkBytes, src.Length - off);
            src.Slice(off, n).CopyTo(_buffer);
            dst.SubView(off, n).CopyFromCPU(_stream, ref _buffer[0], n);
        }
    }

    public void UploadFloats(ArrayView<byte> dst, ReadOnlySpan<float> src, DType dtype)
    {
        if (dtype == DType.F32) { Upload(dst, MemoryMarshal.AsBytes(src)); return; }
        int size = dtype.SizeInBytes(), per = ChunkBytes / size;
        for (int off = 0; off < src.Length; off += per)
        {
            int n = Math.Min(per, src.Length - off);
            var halves = MemoryMarshal.Cast<byte, ushort>(_buffer.AsSpan(0, n * 2));
            switch (dtype)
            {
                case DType.BF16: HalfConversions.FloatToBF16(src.Slice(off, n), halves); break;
                case DType.F16: HalfConversions.FloatToF16(src.Slice(off, n), halves); break;
                default: throw new NotSupportedException($"cannot make a {dtype.Name()} tensor from floats");
            }
            dst.SubView((long)off * size, (long)n * size).CopyFromCPU(_stream, ref _buffer[0], (long)n * size);
        }
    }

    public void Download(ArrayView<byte> src, Span<byte> dst)
    {
        for (int off = 0; off < dst.Length; off += ChunkBytes)
        {
            int n = Math.Min(ChunkBytes, dst.Length - off);
            src.SubView(off, n).CopyToCPU(_stream, ref _buffer[0], n);
            _buffer.AsSpan(0, n).CopyTo(dst.Slice(off));
        }
    }

    public void DownloadFloats(ArrayView<byte> src, DType dtype, Span<float> dst)
    {
        if (dtype == DType.F32) { Download(src, MemoryMarshal.AsBytes(dst)); return; }
        int size = dtype.SizeInBytes(), per = ChunkBytes / size;
        for (int off = 0; off < dst.Length; off += per)
        {
            int n = Math.Min(per, dst.Length - off);
            src.SubView((long)off * size, (long)n * size).CopyToCPU(_stream, ref _buffer[0], (long)n * size);
            var part = dst.Slice(off, n);
            switch (dtype)
            {
                case DType.BF16: HalfConversions.BF16ToFloat(MemoryMarshal.Cast<byte, ushort>(_buffer.AsSpan(0, n * 2)), part); break;
                case DType.F16: HalfConversions.F16ToFloat(MemoryMarshal.Cast<byte, ushort>(_buffer.AsSpan(0, n * 2)), part); break;
                case DType.I32:
                    var ints = MemoryMarshal.Cast<byte, int>(_buffer.AsSpan(0, n * 4));
                    for (int i = 0; i < n; i++) part[i] = ints[i];
                    break;
                default: throw new NotSupportedException($"cannot read a {dtype.Name()} tensor as floats");
            }
        }
    }

    public void Dispose() => _pageLock?.Dispose();
}
