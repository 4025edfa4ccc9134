using ILGPU;

namespace Engine.Kernels;

/// <summary>NF4 weights in bitsandbytes' layout (row-major flat weight, blocks of consecutive elements, element 2j in
/// the high nibble of byte j): dequantization and a fused dequantize-GEMV for small batches. All arithmetic in fp32:
/// w = fl(lut[code] · absmax). A double-quantized absmax is fl(map[q] · nested) written by
/// <see cref="NestedAbsmax"/>, plus the offset added by the consumer after loading it, as bitsandbytes adds the
/// offset in a separate op (so no kernel may contract the two into one rounding).</summary>
internal static class Nf4Kernels
{
    /// <summary>scaled[i] = codeMap[codes[firstBlock + i]] · nested[(firstBlock + i) / nestedBlockSize].</summary>
    [GpuKernel]
    public static void NestedAbsmax(ArrayView<byte> codes, ArrayView<float> nested, ArrayView<float> codeMap,
                                    ArrayView<float> scaled, long firstBlock, long count, int nestedBlockSize)
    {
        for (long i = GridLoop.Start; i < count; i += GridLoop.Stride)
        {
            long b = firstBlock + i;
            scaled[i] = codeMap[(int)codes[b]] * nested[b / nestedBlockSize];
        }
    }

    /// <summary>dst[i] = lut[code(start + i)] · absmax of its block, for i &lt; n. absmax[j] belongs to block
    /// firstBlock + j; <paramref name="addOffset"/> ≠ 0 adds <paramref name="offset"/> to it first (double quant).</summary>
    [GpuKernel]
    public static void Dequantize<Y>(ArrayView<byte> packed, ArrayView<float> absmax, ArrayView<float> lut, ArrayView<byte> dst,
                                     long start, long n, int blockSize, long firstBlock, int addOffset, float offset)
        where Y : struct, IElement
    {
        var table = LoadTable(lut);
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            long e = start + i;
            int b = packed[e >> 1];
            int code = (e & 1) == 0 ? b >> 4 : b & 0xF;
            float a = absmax[e / blockSize - firstBlock];
            if (addOffset != 0) a += offset;
            default(Y).Store(dst, i, table[code] * a);
        }
    }

    /// <summary>y[m, o] = Σ_i x[m, i] · W[o, i] for W [rows, cols] with each weight dequantized on the fly; one warp per
    /// output element, fp32 accumulation, a fixed shuffle order (deterministic). When <paramref name="wordAligned"/> ≠ 0
    /// (cols a multiple of 8 and the packed view 4-byte aligned) each lane reads 8 codes as one 32-bit word, all in
    /// one block since block sizes are multiples of 8.</summary>
    [GpuKernel]
    public static void MatVec<X, Y>(ArrayView<byte> x, ArrayView<byte> packed, ArrayView<float> absmax, ArrayView<float> lut,
                                    ArrayView<byte> y, int m, int rows, int cols, int blockSize, int addOffset, float offset,
                                    int wordAligned)
        where X : struct, IElement where Y : struct, IElement
    {
        var table = LoadTable(lut);
        int warpsPerGroup = Group.DimX / Warp.WarpSize;
        long pairs = (long)m * rows;
        for (long p = (long)Grid.IdxX * warpsPerGroup + Warp.WarpIdx; p < pairs; p += (long)Grid.DimX * warpsPerGroup)
        {
            long mi = p / rows;
            long o = p - mi * rows;
            long e0 = o * cols, x0 = mi * cols;
            float acc = 0f;
            if (wordAligned != 0)
            {
                var words = packed.Cast<uint>();
                int count = cols >> 3;
                for (int w = Warp.LaneIdx; w < count; w += Warp.WarpSize)
                {
                    long e = e0 + 8L * w;
                    uint word = words[e >> 3];
                    float a = absmax[e / blockSize];
                    if (addOffset != 0) a += offset;
                    long xi = x0 + 8L * w;
                    for (int j = 0; j < 4; j++)
                    {
                        int hi = (int)(word >> (8 * j + 4)) & 0xF, lo = (int)(word >> (8 * j)) & 0xF;
                        acc += table[hi] * a * default(X).Load(x, xi + 2 * j);
                        acc += table[lo] * a * default(X).Load(x, xi + 2 * j + 1);
                    }
                }
            }
            else
            {
                for (int i = Warp.LaneIdx; i < cols; i += Warp.WarpSize)
                {
                    long e = e0 + i;
                    int b = packed[e >> 1];
                    int code = (e & 1) == 0 ? b >> 4 : b & 0xF;
                    float a = absmax[e / blockSize];
                    if (addOffset != 0) a += offset;
                    acc += table[code] * a * default(X).Load(x, x0 + i);
                }
            }
            for (int s = Warp.WarpSize / 2; s > 0; s >>= 1) acc += Warp.ShuffleXor(acc, s);
            if (Warp.LaneIdx == 0) default(Y).Store(y, p, acc);
        }
    }

    /// <summary>The 16 code values in shared memory (every thread of the group must call this: it has a barrier).</summary>
    private static ArrayView<float> LoadTable(ArrayView<float> lut)
    {
        var table = SharedMemory.Allocate<float>(16);
        for (int i = Group.IdxX; i < 16; i += Group.DimX) table[i] = lut[i];
        Group.Barrier();
        return table;
    }
}
