using System.Runtime.InteropServices;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>The reference backend: fp32 compute on managed arrays, multi-threaded, SIMD through TensorPrimitives.
/// Memory and dtype handling live here; each family of ops is in its own partial file.</summary>
internal sealed partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    private readonly Dictionary<(DType, long), Stack<Array>> _pool = new();
    private readonly object _poolLock = new();
    private long _pooledBytes;
    private long _current, _peak;
    /// <summary>Freed arrays kept for reuse, at most this many bytes in all.</summary>
    public long PoolLimitBytes { get; set; } = 2L << 30;

    public string Name => "cpu";
    public bool IsCuda => false;
    public DType ActivationType => DType.F32;
    public (long Current, long Peak) MemoryInUse => (Interlocked.Read(ref _current), Interlocked.Read(ref _peak));
    public void ResetPeakMemory() => Interlocked.Exchange(ref _peak, Interlocked.Read(ref _current));
    public void Synchronize() { }
    public void Dispose() { }

    private Storage Allocate(DType dtype, long length, bool zero)
    {
        if (length > Array.MaxLength) throw new OutOfMemoryException($"a CPU tensor of {length} elements exceeds the largest array .NET allows");
        Array? data = null;
        lock (_poolLock)
        {
            if (_pool.TryGetValue((dtype, length), out var stack) && stack.Count > 0)
            {
                data = stack.Pop();
                _pooledBytes -= length * dtype.SizeInBytes();
            }
        }
        if (data is null)
        {
            data = dtype switch
            {
                DType.F32 => new float[length],
                DType.I32 => new int[length],
                DType.BF16 or DType.F16 => new ushort[length],
                DType.U8 => new byte[length],
                _ => throw new NotSupportedException(dtype.ToString()),
            };
        }
        else if (zero) Array.Clear(data);
        long now = Interlocked.Add(ref _current, length * dtype.SizeInBytes());
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
        return new CpuStorage(this, dtype, length, data);
    }

    internal void Return(DType dtype, long length, Array data)
    {
        long bytes = length * dtype.SizeInBytes();
        Interlocked.Add(ref _current, -bytes);
        lock (_poolLock)
        {
            if (_pooledBytes + bytes > PoolLimitBytes) return;
            if (!_pool.TryGetValue((dtype, length), out var stack)) _pool[(dtype, length)] = stack = new Stack<Array>();
            stack.Push(data);
            _pooledBytes += bytes;
        }
    }

    /// <summary>Drops every pooled array (they go to the GC).</summary>
    public void TrimPool()
    {
        lock (_poolLock) { _pool.Clear(); _pooledBytes = 0; }
    }

    public Tensor Empty(Shape shape, DType dtype) => new(Allocate(dtype, shape.NumElements, zero: false), shape);
    public Tensor Zeros(Shape shape, DType dtype) => new(Allocate(dtype, shape.NumElements, zero: true), shape);

    public Tensor FromFloats(ReadOnlySpan<float> data, Shape shape, DType dtype)
    {
        CheckCount(data.Length, shape);
        var t = Empty(shape, dtype);
        switch (dtype)
        {
            case DType.F32: data.CopyTo(t.F32()); break;
            case DType.BF16: HalfConversions.FloatToBF16(data, t.U16()); break;
            case DType.F16: HalfConversions.FloatToF16(data, t.U16()); break;
            default: t.Dispose(); throw new NotSupportedException($"cannot make a {dtype.Name()} tensor from floats");
        }
        return t;
    }

    public Tensor FromInts(ReadOnlySpan<int> data, Shape shape)
    {
        CheckCount(data.Length, shape);
        var t = Empty(shape, DType.I32);
        data.CopyTo(t.I32());
        return t;
    }

    public Tensor FromBytes(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        if (data.Length != shape.NumElements * dtype.SizeInBytes())
            throw new ArgumentException($"{data.Length} bytes do not hold a {dtype.Name()} tensor of shape {shape}");
        var t = Empty(shape, dtype);
        data.CopyTo(t.Bytes());
        return t;
    }

    private static void CheckCount(int n, Shape shape)
    {
        if (n != shape.NumElements) throw new ArgumentException($"{n} values do not fill shape {shape}");
    }

    public void ToFloats(Tensor t, Span<float> dst)
    {
        switch (t.DType)
        {
            case DType.F32: t.F32().CopyTo(dst); break;
            case DType.BF16: HalfConversions.BF16ToFloat(t.U16(), dst); break;
            case DType.F16: HalfConversions.F16ToFloat(t.U16(), dst); break;
            case DType.I32: { var s = t.I32(); for (int i = 0; i < s.Length; i++) dst[i] = s[i]; break; }
            default: throw new NotSupportedException($"cannot read {t} as floats");
        }
    }

    public void ToInts(Tensor t, Span<int> dst) => t.I32().CopyTo(dst);
    public void ToBytes(Tensor t, Span<byte> dst) => t.Bytes().CopyTo(dst);

    public void Fill(Tensor t, float value)
    {
        switch (t.DType)
        {
            case DType.F32: t.F32().Fill(value); break;
            case DType.BF16: t.U16().Fill(HalfConversions.FloatToBF16(value)); break;
            case DType.F16: t.U16().Fill(HalfConversions.FloatToF16(value)); break;
            case DType.I32: t.I32().Fill((int)value); break;
            case DType.U8: t.U8().Fill((byte)value); break;
        }
    }

    public void Copy(Tensor src, Tensor dst)
    {
        if (src.NumElements != dst.NumElements) throw new ArgumentException($"copy {src} to {dst}: sizes differ");
        if (src.DType == dst.DType) { src.Bytes().CopyTo(dst.Bytes()); return; }
        if (dst.DType == DType.F32) { ToFloats(src, dst.F32()); return; }
        var f = src.DType == DType.F32 ? src.F32() : ToFloatArray(src);
        switch (dst.DType)
        {
            case DType.BF16: HalfConversions.FloatToBF16(f, dst.U16()); break;
            case DType.F16: HalfConversions.FloatToF16(f, dst.U16()); break;
            default: throw new NotSupportedException($"cannot copy {src} to {dst}");
        }
    }

    private float[] ToFloatArray(Tensor t)
    {
        var a = new float[t.NumElements];
        ToFloats(t, a);
        return a;
    }

    /// <summary>The backing array and start of an f32 view, for kernels that index directly.</summary>
    internal static (float[] Array, int Offset) Raw(Tensor t)
    {
        t.F32();
        return ((float[])((CpuStorage)t.Storage).Data, (int)t.Offset);
    }

    internal static void SameShape(Tensor a, Tensor b, string op)
    {
        if (a.NumElements != b.NumElements) throw new ArgumentException($"{op}: {a} and {b} differ in size");
    }
}
