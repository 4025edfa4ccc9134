namespace Engine.Quant;

/// <summary>ggml block_q6_K = { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d } for 256 values, quantized
/// exactly like quantize_row_q6_K_ref: each 16-value group gets a scale from make_qx_quants (nmax 32, rmse_type 1,
/// see <see cref="KQuantSearch.SymmetricScales8"/>); the group scales are quantized to int8 against the
/// largest-magnitude one (iscale = -128/max, d = fp16(1/iscale)); every value is then re-rounded to
/// l = clamp(nearest_int(x / (d·scale)), -32, 31) and stored as l + 32 in 6 bits. Dequantized as d·scale·(q - 32).
/// Layout (per 128 values, twice): ql[l] holds q[l] and q[l+64] as low/high nibbles, ql[l+32] holds q[l+32] and
/// q[l+96]; qh[l] holds bits 4-5 of q[l], q[l+32], q[l+64], q[l+96] in its 2-bit fields from the bottom.</summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class BlockQ6_K
{
    public const int Bytes = 210;
    private const int Groups = GgmlTypes.QK_K / 16;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[GgmlTypes.QK_K];
        Span<float> scales = stackalloc float[Groups];
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            var yb = y.Slice(i * Bytes, Bytes);
            float maxScale = 0, maxAbsScale = 0;
            KQuantSearch.SymmetricScales8(xb[..128], 32, levels[..128], scales[..8]);
            KQuantSearch.SymmetricScales8(xb[128..], 32, levels[128..], scales[8..]);
            for (int g = 0; g < Groups; g++)
            {
                float abs = MathF.Abs(scales[g]);
                if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scales[g]; }
            }
            yb.Clear();
            if (maxAbsScale < KQuantSearch.GroupMaxEps) continue; // all zero, d = 0

            float iscale = -128f / maxScale;
            BlockBits.WriteHalf(yb, 208, 1 / iscale);
            var sc = yb.Slice(192, Groups);
            for (int g = 0; g < Groups; g++) sc[g] = (byte)(sbyte)Math.Min(127, KQuantSearch.NearestInt(iscale * scales[g]));
            float dAll = BlockBits.ReadHalf(yb, 208);
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * (sbyte)sc[g];
                if (d == 0) continue;
                for (int k = 0; k < 16; k++)
                {
                    int l = Math.Max(-32, Math.Min(31, KQuantSearch.NearestInt(xb[16 * g + k] / d)));
                    levels[16 * g + k] = (sbyte)(l + 32);
                }
            }
            for (int half = 0; half < 2; half++)
            {
                var ql = yb.Slice(64 * half, 64);
                var qh = yb.Slice(128 + 32 * half, 32);
                var q = levels.Slice(128 * half, 128);
                for (int l = 0; l < 32; l++)
                {
                    int q1 = q[l], q2 = q[l + 32], q3 = q[l + 64], q4 = q[l + 96];
                    ql[l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                    ql[l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                    qh[l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
            }
        }
    }

    /// <summary>dequantize_row_q6_K.</summary>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var yb = y.Slice(i * Bytes, Bytes);
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            float d = BlockBits.ReadHalf(yb, 208);
            for (int half = 0; half < 2; half++)
            {
                var ql = yb.Slice(64 * half, 64);
                var qh = yb.Slice(128 + 32 * half, 32);
                var sc = yb.Slice(192 + 8 * half, 8);
                var o = xb.Slice(128 * half, 128);
                for (int l = 0; l < 32; l++)
                {
                    int g = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    o[l] = d * (sbyte)sc[g] * q1;
                    o[l + 32] = d * (sbyte)sc[g + 2] * q2;
                    o[l + 64] = d * (sbyte)sc[g + 4] * q3;
                    o[l + 96] = d * (sbyte)sc[g + 6] * q4;
                }
            }
        }
    }
}
