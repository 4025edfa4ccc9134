using Engine.Tensors;

namespace Engine.Backends;

/// <summary>
/// An NF4-quantized nn.Linear weight [Rows = out, Cols = in] whose arrays live on a backend, in bitsandbytes' layout:
/// the row-major flattened weight in blocks of <see cref="BlockSize"/> consecutive elements (a block may cross rows),
/// <see cref="Packed"/> U8 with element 2j in the high nibble of byte j, and per block either an fp32 scale
/// (<see cref="Absmax"/> F32) or, double-quantized, an 8-bit code (<see cref="Absmax"/> U8) whose scale is
/// <c>fl(NestedCodeMap[code] · NestedAbsmax[block / NestedBlockSize]) + NestedOffset</c> in fp32.
/// The 16 NF4 code values are the backend's constant (<c>Engine.Quant.Nf4.CodeValues</c>). Owns its tensors.
/// </summary>
internal sealed class Nf4DeviceWeight : IDisposable
{
    public Nf4DeviceWeight(int rows, int cols, int blockSize, Tensor packed, Tensor absmax,
        Tensor? nestedAbsmax = null, Tensor? nestedCodeMap = null, float nestedOffset = 0f, int nestedBlockSize = 256)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"NF4 weight shape [{rows}, {cols}] must be positive");
        if (blockSize < 32 || blockSize > 4096 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentException($"NF4 block size {blockSize} is not a power of two from 32 to 4096");
        long count = (long)rows * cols;
        long blocks = (count + blockSize - 1) / blockSize;
        Require(packed, DType.U8, (count + 1) / 2, "packed codes");
        bool nested = nestedAbsmax is not null;
        if (nested != (nestedCodeMap is not null))
            throw new ArgumentException("a double-quantized NF4 weight needs both the nested absmax and the nested code map");
        Require(absmax, nested ? DType.U8 : DType.F32, blocks, nested ? "absmax codes" : "absmax");
        if (nested)
        {
            if (nestedBlockSize < 64 || nestedBlockSize > 4096 || (nestedBlockSize & (nestedBlockSize - 1)) != 0)
                throw new ArgumentException($"nested block size {nestedBlockSize} is not a power of two from 64 to 4096");
            Require(nestedAbsmax!, DType.F32, (blocks + nestedBlockSize - 1) / nestedBlockSize, "nested absmax");
            Require(nestedCodeMap!, DType.F32, 256, "nested code map");
        }
        foreach (var t in new[] { absmax, nestedAbsmax, nestedCodeMap })
            if (t is not null && !ReferenceEquals(t.Device, packed.Device))
                throw new ArgumentException($"NF4 weight parts live on different devices: {packed} and {t}");
        Rows = rows;
        Cols = cols;
        BlockSize = blockSize;
        Packed = packed;
        Absmax = absmax;
        NestedAbsmax = nestedAbsmax;
        NestedCodeMap = nestedCodeMap;
        NestedOffset = nestedOffset;
        NestedBlockSize = nestedBlockSize;
    }

    public int Rows { get; }
    public int Cols { get; }
    public int BlockSize { get; }
    public Tensor Packed { get; }
    public Tensor Absmax { get; }
    public Tensor? NestedAbsmax { get; }
    public Tensor? NestedCodeMap { get; }
    public float NestedOffset { get; }
    public int NestedBlockSize { get; }

    public bool IsDoubleQuantized => NestedAbsmax is not null;
    public long Count => (long)Rows * Cols;
    public long BlockCount => Absmax.NumElements;
    public IDevice Device => Packed.Device;

    /// <summary>Bytes of this weight's own data (codes, scales, nested scales and offset); the shared code maps are
    /// not counted, as in <c>Nf4Weight.ByteSize</c>.</summary>
    public long ByteSize => Packed.ByteLength + Absmax.ByteLength + (NestedAbsmax is { } n ? n.ByteLength + sizeof(float) : 0);

    private static void Require(Tensor t, DType dtype, long elements, string what)
    {
        if (t.DType != dtype || t.NumElements != elements)
            throw new ArgumentException($"NF4 {what} must be {dtype.Name()} with {elements} elements, got {t}");
    }

    public void Dispose()
    {
        Packed.Dispose();
        Absmax.Dispose();
        NestedAbsmax?.Dispose();
        NestedCodeMap?.Dispose();
    }
}
