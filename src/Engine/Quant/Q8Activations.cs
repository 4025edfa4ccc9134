using System.Buffers.Binary;

namespace Engine.Quant;

/// <summary>Activations quantized to 8 bits per block of 32, the "vec_dot_type" ggml multiplies the legacy block
/// weights with (see <see cref="LegacyDot"/>). Byte-exact with ggml-cpu's x86 AVX2 <c>quantize_row_q8_0</c> and
/// <c>quantize_row_q8_1</c> (arch/x86/quants.c), which differ from the <c>_ref</c> versions in ggml-quants.c: per block,
/// amax = max|x|, d = amax/127 in fp32 (stored as fp16), id = amax != 0 ? 127/amax : 0 in fp32 (not 1/d), and
/// q = x·id rounded to nearest, ties to even (<c>_mm256_round_ps(…, _MM_ROUND_NEAREST)</c>; the reference rounds
/// ties away from zero). |x·id| never exceeds 127, so qs holds [-127, 127] and never -128.</summary>
internal static class Q8Activations
{
    /// <summary>ggml block_q8_0: fp16 d, int8 qs[32].</summary>
    public const int Q8_0BlockBytes = 34;

    /// <summary>ggml block_q8_1: fp16 d, fp16 s, int8 qs[32], where s = fp16(d·Σqs) with d the fp32 scale before it is
    /// rounded to fp16 (AVX2 quantize_row_q8_1: <c>GGML_CPU_FP32_TO_FP16(d * hsum_i32_8(…))</c>).</summary>
    public const int Q8_1BlockBytes = 36;

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 32 values) to <c>x.Length/32</c> q8_0 blocks.</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> dst) => Quantize(x, dst, Q8_0BlockBytes);

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 32 values) to <c>x.Length/32</c> q8_1 blocks.</summary>
    public static void QuantizeQ8_1(ReadOnlySpan<float> x, Span<byte> dst) => Quantize(x, dst, Q8_1BlockBytes);

    /// <summary>Decodes q8_0 blocks: qs·d. For tests and references.</summary>
    public static void DequantizeQ8_0(ReadOnlySpan<byte> src, Span<float> dst) => Dequantize(src, dst, Q8_0BlockBytes);

    /// <summary>Decodes q8_1 blocks: qs·d (s is not needed to decode). For tests and references.</summary>
    public static void DequantizeQ8_1(ReadOnlySpan<byte> src, Span<float> dst) => Dequantize(src, dst, Q8_1BlockBytes);

    private static void Quantize(ReadOnlySpan<float> x, Span<byte> dst, int blockBytes)
    {
        int nb = CheckLengths(x.Length, dst.Length, blockBytes, "destination");
        int qs = blockBytes - GgmlTypes.QK;
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * GgmlTypes.QK, GgmlTypes.QK);
            var yb = dst.Slice(b * blockBytes, blockBytes);
            float amax = 0f;
            foreach (float v in xb) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = amax != 0f ? 127f / amax : 0f;
            int sum = 0;
            for (int j = 0; j < GgmlTypes.QK; j++)
            {
                int q = Math.Clamp((int)MathF.Round(xb[j] * id, MidpointRounding.ToEven), -127, 127);
                yb[qs + j] = (byte)(sbyte)q;
                sum += q;
            }
            BlockBits.WriteHalf(yb, 0, d);
            if (blockBytes == Q8_1BlockBytes) BlockBits.WriteHalf(yb, 2, d * sum);
        }
    }

    private static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst, int blockBytes)
    {
        int nb = CheckLengths(dst.Length, src.Length, blockBytes, "source");
        int qs = blockBytes - GgmlTypes.QK;
        for (int b = 0; b < nb; b++)
        {
            var yb = src.Slice(b * blockBytes, blockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(yb));
            for (int j = 0; j < GgmlTypes.QK; j++) dst[b * GgmlTypes.QK + j] = (sbyte)yb[qs + j] * d;
        }
    }

    private static int CheckLengths(int values, int bytes, int blockBytes, string what)
    {
        if (values % GgmlTypes.QK != 0)
            throw new ArgumentException($"q8 activations are blocks of {GgmlTypes.QK} values; got {values} values, not a multiple of {GgmlTypes.QK}");
        int nb = values / GgmlTypes.QK;
        if (bytes != (long)nb * blockBytes)
            throw new ArgumentException($"{values} values take {nb} blocks of {blockBytes} bytes = {(long)nb * blockBytes} bytes; the {what} has {bytes}");
        return nb;
    }
}
