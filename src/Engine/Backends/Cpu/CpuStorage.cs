using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>Host memory for the CPU backend: one managed array per storage, typed by dtype
/// (float[] for F32, ushort[] for BF16/F16, int[] for I32, byte[] for U8), rented from the backend's pool.</summary>
internal sealed class CpuStorage : Storage
{
    private readonly CpuBackend _owner;

    public CpuStorage(CpuBackend owner, DType dtype, long length, Array data) : base(owner, dtype, length)
    {
        _owner = owner;
        Data = data;
    }

    public Array Data { get; private set; }

    protected override void Free()
    {
        _owner.Return(DType, Length, Data);
        Data = Array.Empty<float>();
    }
}

/// <summary>Typed span access to CPU tensors (the element offset and length of the view applied).</summary>
internal static class CpuTensor
{
    private static CpuStorage S(Tensor t)
    {
        t.ThrowIfDisposed();
        return t.Storage as CpuStorage ?? throw new InvalidOperationException($"{t} is not on the CPU");
    }

    public static Span<float> F32(this Tensor t)
    {
        if (t.DType != DType.F32) throw new NotSupportedException($"the CPU backend computes in f32; got {t}");
        return ((float[])S(t).Data).AsSpan((int)t.Offset, (int)t.NumElements);
    }

    public static Span<int> I32(this Tensor t)
    {
        if (t.DType != DType.I32) throw new NotSupportedException($"expected an i32 tensor, got {t}");
        return ((int[])S(t).Data).AsSpan((int)t.Offset, (int)t.NumElements);
    }

    public static Span<ushort> U16(this Tensor t)
    {
        if (t.DType is not (DType.BF16 or DType.F16)) throw new NotSupportedException($"expected a 16-bit float tensor, got {t}");
        return ((ushort[])S(t).Data).AsSpan((int)t.Offset, (int)t.NumElements);
    }

    public static Span<byte> U8(this Tensor t)
    {
        if (t.DType != DType.U8) throw new NotSupportedException($"expected a u8 tensor, got {t}");
        return ((byte[])S(t).Data).AsSpan((int)t.Offset, (int)t.NumElements);
    }

    /// <summary>The raw bytes of the view, whatever its dtype.</summary>
    public static Span<byte> Bytes(this Tensor t)
    {
        var s = S(t);
        int size = t.DType.SizeInBytes();
        return t.DType switch
        {
            DType.F32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(((float[])s.Data).AsSpan((int)t.Offset, (int)t.NumElements)),
            DType.I32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(((int[])s.Data).AsSpan((int)t.Offset, (int)t.NumElements)),
            DType.BF16 or DType.F16 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(((ushort[])s.Data).AsSpan((int)t.Offset, (int)t.NumElements)),
            DType.U8 => ((byte[])s.Data).AsSpan((int)t.Offset, (int)t.NumElements),
            _ => throw new NotSupportedException(t.DType.ToString()),
        };
    }
}
