using Engine.Threading;
namespace Engine.Quant;

/// <summary>
/// bitsandbytes' blockwise 8-bit quantization (<c>quantize_blockwise</c> / <c>dequantize_blockwise</c>; CUDA
/// <c>kQuantizeBlockwise&lt;…, General8bit&gt;</c> with <c>dQuantize&lt;0&gt;</c> in csrc/cuda/blockwise_quantization.cu),
/// used by double quantization with the <see cref="DynamicQuantMap.Signed"/> code and blocks of 256.
/// Per block: absmax = max|x| (as in <see cref="Nf4Quantizer"/>), each x · fastrcp(absmax) goes to the code entry
/// <see cref="QuantizeValue"/> picks; dequantized x = code[q] · absmax.
/// </summary>
internal static class BlockwiseQuant8
{
    public const int DefaultBlockSize = 256;

    public static (byte[] Codes, float[] Absmax) Quantize(ReadOnlySpan<float> values, int blockSize = DefaultBlockSize) =>
        Quantize(values, DynamicQuantMap.Signed, blockSize);

    public static (byte[] Codes, float[] Absmax) Quantize(ReadOnlySpan<float> values, ReadOnlySpan<float> code, int blockSize)
    {
        var codes = new byte[values.Length];
        var absmax = new float[Nf4Quantizer.BlockCount(values.Length, blockSize)];
        Quantize(values, code, blockSize, codes, absmax);
        return (codes, absmax);
    }

    public static unsafe void Quantize(ReadOnlySpan<float> values, ReadOnlySpan<float> code, int blockSize, Span<byte> codes,
        Span<float> absmax)
    {
        CheckCode(code);
        CheckBlockSize(blockSize);
        int n = values.Length, blocks = Nf4Quantizer.BlockCount(n, blockSize);
        if (codes.Length != n) throw new ArgumentException($"codes must hold {n} bytes, got {codes.Length}");
        if (absmax.Length != blocks) throw new ArgumentException($"absmax must hold {blocks} blocks, got {absmax.Length}");
        fixed (float* vp = values)
        fixed (float* mp = code)
        fixed (byte* cp = codes)
        fixed (float* ap = absmax)
        {
            nint v = (nint)vp, m = (nint)mp, c = (nint)cp, a = (nint)ap;
            ChunkedParallel.For(blocks, blockSize * 8, 1 << 16, Environment.ProcessorCount, (b0, b1) =>
            {
                var map = new ReadOnlySpan<float>((float*)m, 256);
                for (int b = b0; b < b1; b++)
                {
                    int start = b * blockSize, len = Math.Min(blockSize, n - start);
                    var block = new ReadOnlySpan<float>((float*)v + start, len);
                    float max = Nf4Quantizer.BlockAbsmax(block, padded: len < blockSize);
                    ((float*)a)[b] = max;
                    float r = CudaFastReciprocal.Reciprocal(max);
                    byte* dst = (byte*)c + start;
                    for (int i = 0; i < len; i++) dst[i] = QuantizeValue(map, FlushDenormal(Nf4Quantizer.Scale(block[i], r)));
                }
            });
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<float> absmax, int blockSize, Span<float> output) =>
        Dequantize(codes, absmax, DynamicQuantMap.Signed, blockSize, output);

    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<float> absmax, ReadOnlySpan<float> code,
        int blockSize, Span<float> output)
    {
        CheckCode(code);
        CheckBlockSize(blockSize);
        if (output.Length != codes.Length)
            throw new ArgumentException($"output holds {output.Length} values, codes {codes.Length}");
        if (absmax.Length < Nf4Quantizer.BlockCount(codes.Length, blockSize))
            throw new ArgumentException($"absmax holds {absmax.Length} blocks, {codes.Length} codes need " +
                $"{Nf4Quantizer.BlockCount(codes.Length, blockSize)}");
        for (int i = 0; i < codes.Length; i++) output[i] = code[codes[i]] * absmax[i / blockSize];
    }

    /// <summary>
    /// bnb's <c>dQuantize&lt;0&gt;</c>: a 7-step binary search over the 256 sorted code values starting at pivot 127,
    /// then a choice between the final pivot and the last pivot passed on the other side, by comparison with the fp32
    /// midpoint <c>(a + b) * 0.5f</c>. Ties go to the final pivot; NaN ends at code 0; values beyond the ends clamp.
    /// </summary>
    public static byte QuantizeValue(ReadOnlySpan<float> code, float x)
    {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = -1.0f, upper = 1.0f;
        float val = code[pivot];
        for (int step = 64; step > 0; step >>= 1)
        {
            if (x > val)
            {
                lowerPivot = pivot;
                lower = val;
                pivot += step;
            }
            else
            {
                upperPivot = pivot;
                upper = val;
                pivot -= step;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) upper = code[255];
        if (lowerPivot == 0) lower = code[0];
        if (x > val)
        {
            float midpoint = (upper + val) * 0.5f;
            return (byte)(x > midpoint ? upperPivot : pivot);
        }
        else
        {
            float midpoint = (lower + val) * 0.5f;
            return (byte)(x < midpoint ? lowerPivot : pivot);
        }
    }

    private static float FlushDenormal(float x) => float.Abs(x) < Nf4Quantizer.FltMin ? 0f * x : x;

    private static void CheckCode(ReadOnlySpan<float> code)
    {
        if (code.Length != 256) throw new ArgumentException($"an 8-bit code map has 256 values, got {code.Length}");
    }

    private static void CheckBlockSize(int blockSize)
    {
        if (blockSize < 64 || blockSize > 4096 || !System.Numerics.BitOperations.IsPow2(blockSize))
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize,
                "8-bit block size must be a power of two from 64 to 4096 (bitsandbytes' supported sizes)");
    }
}
