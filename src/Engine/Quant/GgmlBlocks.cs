using System.Runtime.InteropServices;

namespace Engine.Quant;

/// <summary>Converts fp32 values to and from any <see cref="GgmlType"/>'s on-disk bytes. Quantization is byte-exact
/// with ggml's reference quantizers (quantize_row_*_ref); large inputs are split over threads by whole blocks, which
/// gives the same bytes because blocks are independent.</summary>
internal static class GgmlBlocks
{
    // Blocks per parallel work item: big enough to amortize scheduling, small enough to balance a 7B layer.
    private const int BlocksPerChunk = 8192;

    /// <summary>Encodes <paramref name="src"/> (a whole number of blocks) into <paramref name="dst"/>, which must be
    /// exactly <c>type.RowSize(src.Length)</c> bytes.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        long bytes = type.RowSize(src.Length);
        if (dst.Length != bytes) throw new ArgumentException($"{src.Length} values as {type.Name()} take {bytes} bytes; destination has {dst.Length}");
        Run(type, src, dst, encode: true);
    }

    /// <summary>Encodes a row-major matrix whose rows have <paramref name="rowLength"/> values. Every row must be a whole
    /// number of blocks, as ggml requires (ne[0] % 32 == 0, or % 256 for the k-quants), so no block spans two rows.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst, int rowLength)
    {
        CheckRowLength(type, rowLength);
        if (rowLength == 0 ? src.Length != 0 : src.Length % rowLength != 0)
            throw new ArgumentException($"{src.Length} values are not a whole number of rows of {rowLength}");
        Quantize(type, src, dst);
    }

    /// <summary>Decodes <paramref name="src"/> (exactly <c>type.RowSize(dst.Length)</c> bytes) into fp32.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        long bytes = type.RowSize(dst.Length);
        if (src.Length != bytes) throw new ArgumentException($"{dst.Length} values as {type.Name()} take {bytes} bytes; source has {src.Length}");
        Run(type, dst, src, encode: false);
    }

    /// <summary>Throws an <see cref="EngineException"/> naming the type when rows of this length cannot be stored as
    /// <paramref name="type"/>.</summary>
    public static void CheckRowLength(GgmlType type, long rowLength)
    {
        int bs = type.BlockSize();
        if (rowLength < 0 || rowLength % bs != 0)
            throw new EngineException($"{type.Name()} needs rows whose length is a multiple of {bs}; got a row of {rowLength} values");
    }

    private static unsafe void Run(GgmlType type, ReadOnlySpan<float> floats, ReadOnlySpan<byte> bytes, bool encode)
    {
        int bs = type.BlockSize();
        int ts = type.TypeSize();
        long blocks = floats.Length / bs;
        fixed (float* pf = floats)
        fixed (byte* pb = bytes)
        {
            if (blocks <= BlocksPerChunk || Environment.ProcessorCount == 1)
            {
                Convert(type, pf, pb, (int)blocks, encode);
                return;
            }
            nint f = (nint)pf, b = (nint)pb;
            long chunks = (blocks + BlocksPerChunk - 1) / BlocksPerChunk;
            Parallel.For(0L, chunks, c =>
            {
                long first = c * BlocksPerChunk;
                int n = (int)Math.Min(BlocksPerChunk, blocks - first);
                Convert(type, (float*)f + first * bs, (byte*)b + first * ts, n, encode);
            });
        }
    }

    private static unsafe void Convert(GgmlType type, float* f, byte* b, int blocks, bool encode)
    {
        var floats = new Span<float>(f, blocks * type.BlockSize());
        var bytes = new Span<byte>(b, blocks * type.TypeSize());
        if (encode)
        {
            switch (type)
            {
                case GgmlType.F32: MemoryMarshal.AsBytes(floats).CopyTo(bytes); break;
                case GgmlType.F16: HalfRows.ToF16(floats, bytes); break;
                case GgmlType.BF16: HalfRows.ToBF16(floats, bytes); break;
                case GgmlType.Q4_0: BlockSymmetric.Quantize(floats, bytes, 4); break;
                case GgmlType.Q4_1: BlockAffine.Quantize(floats, bytes, 4); break;
                case GgmlType.Q5_0: BlockSymmetric.Quantize(floats, bytes, 5); break;
                case GgmlType.Q5_1: BlockAffine.Quantize(floats, bytes, 5); break;
                case GgmlType.Q8_0: BlockQ8_0.Quantize(floats, bytes); break;
                case GgmlType.Q2_K: BlockQ2_K.Quantize(floats, bytes); break;
                case GgmlType.Q3_K: BlockQ3_K.Quantize(floats, bytes); break;
                case GgmlType.Q4_K: BlockQ4_K.Quantize(floats, bytes, 4); break;
                case GgmlType.Q5_K: BlockQ4_K.Quantize(floats, bytes, 5); break;
                case GgmlType.Q6_K: BlockQ6_K.Quantize(floats, bytes); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported ggml type");
            }
        }
        else
        {
            switch (type)
            {
                case GgmlType.F32: bytes.CopyTo(MemoryMarshal.AsBytes(floats)); break;
                case GgmlType.F16: HalfRows.FromF16(bytes, floats); break;
                case GgmlType.BF16: HalfRows.FromBF16(bytes, floats); break;
                case GgmlType.Q4_0: BlockSymmetric.Dequantize(bytes, floats, 4); break;
                case GgmlType.Q4_1: BlockAffine.Dequantize(bytes, floats, 4); break;
                case GgmlType.Q5_0: BlockSymmetric.Dequantize(bytes, floats, 5); break;
                case GgmlType.Q5_1: BlockAffine.Dequantize(bytes, floats, 5); break;
                case GgmlType.Q8_0: BlockQ8_0.Dequantize(bytes, floats); break;
                case GgmlType.Q2_K: BlockQ2_K.Dequantize(bytes, floats); break;
                case GgmlType.Q3_K: BlockQ3_K.Dequantize(bytes, floats); break;
                case GgmlType.Q4_K: BlockQ4_K.Dequantize(bytes, floats, 4); break;
                case GgmlType.Q5_K: BlockQ4_K.Dequantize(bytes, floats, 5); break;
                case GgmlType.Q6_K: BlockQ6_K.Dequantize(bytes, floats); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported ggml type");
            }
        }
    }
}
