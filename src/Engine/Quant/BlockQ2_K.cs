namespace Engine.Quant;

/// <summary>ggml block_q2_K = { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin } for 256 values, quantized exactly
/// like quantize_row_q2_K_ref: each 16-value group gets an affine fit from make_qkx2_quants (weights |x|, nmax 3,
/// rmin -0.5, rdelta 0.1, 15 steps, least absolute error; see <see cref="KQuantSearch.AffineScales8"/>); the 16 group
/// scales and mins are quantized to 4 bits against their maxima (d = fp16(max/15)), scale in the low and min in the
/// high nibble of scales[g]; every value is then re-rounded to clamp(nearest_int((x + dmin·m)/(d·sc)), 0, 3).
/// Dequantized as d·sc·q - dmin·m. Layout (per 128 values, twice): qs[l] of each 32-byte run holds values l, l+32,
/// l+64, l+96 of the run's 128 in its 2-bit fields from the bottom.</summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class BlockQ2_K
{
    public const int Bytes = 84;
    private const int Groups = GgmlTypes.QK_K / 16;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[GgmlTypes.QK_K];
        Span<float> weights = stackalloc float[GgmlTypes.QK_K];
        Span<float> scales = stackalloc float[Groups];
        Span<float> mins = stackalloc float[Groups];
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            var yb = y.Slice(i * Bytes, Bytes);
            float maxScale = 0, maxMin = 0;
            for (int l = 0; l < GgmlTypes.QK_K; l++) weights[l] = MathF.Abs(xb[l]);
            for (int half = 0; half < 2; half++)
                KQuantSearch.AffineScales8(xb.Slice(128 * half, 128), weights.Slice(128 * half, 128), 16, 3, levels.Slice(128 * half, 128),
                    scales.Slice(8 * half, 8), mins.Slice(8 * half, 8), -0.5f, 0.1f, 15, useMad: true);
            for (int g = 0; g < Groups; g++)
            {
                if (scales[g] > maxScale) maxScale = scales[g];
                if (mins[g] > maxMin) maxMin = mins[g];
            }

            var sc = yb[..Groups];
            if (maxScale > 0)
            {
                float iscale = 15f / maxScale;
                for (int g = 0; g < Groups; g++) sc[g] = (byte)KQuantSearch.NearestInt(iscale * scales[g]);
                BlockBits.WriteHalf(yb, 80, maxScale / 15f);
            }
            else
            {
                sc.Clear();
                BlockBits.WriteHalf(yb, 80, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = 15f / maxMin;
                for (int g = 0; g < Groups; g++) sc[g] |= (byte)(KQuantSearch.NearestInt(iscale * mins[g]) << 4);
                BlockBits.WriteHalf(yb, 82, maxMin / 15f);
            }
            else
            {
                BlockBits.WriteHalf(yb, 82, 0f);
            }

            float dAll = BlockBits.ReadHalf(yb, 80), mAll = BlockBits.ReadHalf(yb, 82);
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * (sc[g] & 0xF);
                if (d == 0) continue;
                float dm = mAll * (sc[g] >> 4);
                for (int k = 0; k < 16; k++)
                    levels[16 * g + k] = (byte)Math.Max(0, Math.Min(3, KQuantSearch.NearestInt((xb[16 * g + k] + dm) / d)));
            }
            PackTwoBits(levels, yb.Slice(Groups, 64));
        }
    }

    /// <summary>The 2-bit packing q2_K and q3_K share: qs[32·h + l] = q[128h + l] | q[128h + l + 32] &lt;&lt; 2 |
    /// q[128h + l + 64] &lt;&lt; 4 | q[128h + l + 96] &lt;&lt; 6.</summary>
    internal static void PackTwoBits(ReadOnlySpan<byte> q, Span<byte> qs)
    {
        for (int h = 0; h < 2; h++)
        {
            for (int l = 0; l < 32; l++)
            {
                int at = 128 * h + l;
                qs[32 * h + l] = (byte)(q[at] | (q[at + 32] << 2) | (q[at + 64] << 4) | (q[at + 96] << 6));
            }
        }
    }

    /// <summary>The 2-bit value <paramref name="index"/> (0..255) of a block's qs.</summary>
    internal static int TwoBits(ReadOnlySpan<byte> qs, int index) => (qs[32 * (index / 128) + index % 32] >> (2 * (index % 128 / 32))) & 3;

    /// <summary>dequantize_row_q2_K.</summary>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var yb = y.Slice(i * Bytes, Bytes);
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            float dAll = BlockBits.ReadHalf(yb, 80), mAll = BlockBits.ReadHalf(yb, 82);
            var qs = yb.Slice(Groups, 64);
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * (yb[g] & 0xF), m = mAll * (yb[g] >> 4);
                for (int k = 0; k < 16; k++) xb[16 * g + k] = d * TwoBits(qs, 16 * g + k) - m;
            }
        }
    }
}
