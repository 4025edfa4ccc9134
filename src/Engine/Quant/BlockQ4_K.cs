namespace Engine.Quant;

/// <summary>ggml block_q4_K = { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128] } and block_q5_K (the same plus
/// uint8 qh[32] before qs) for 256 values, quantized exactly like quantize_row_q4_K_ref / quantize_row_q5_K_ref: each
/// 32-value group gets an affine fit from make_qkx2_quants (weights sqrt(mean x²) + |x|; q4_K: nmax 15, rmin -1,
/// rdelta 0.1, 20 steps; q5_K: nmax 31, rmin -0.5, rdelta 0.1, 15 steps, see <see cref="KQuantSearch.AffineScales8"/>);
/// the 8 group scales and 8 group mins are quantized to 6 bits against their maxima (d = fp16(max/63)) and packed as
/// get_scale_min_k4 reads them; every value is then re-rounded to clamp(nearest_int((x + dmin·m)/(d·sc)), 0, nmax).
/// Dequantized as d·sc·q - dmin·m. Values come in pairs of groups: qs[l] of each 32-byte run holds group 2j's value l
/// (low nibble) and group 2j+1's (high nibble); for q5_K bit 4 of group k's value l is bit k of qh[l].</summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class BlockQ4_K
{
    public static int Bytes(int bits) => bits == 5 ? 176 : 144;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int bytes = Bytes(bits);
        int nmax = (1 << bits) - 1;
        float rmin = bits == 5 ? -0.5f : -1f;
        int nstep = bits == 5 ? 15 : 20;
        Span<byte> levels = stackalloc byte[GgmlTypes.QK_K];
        Span<float> weights = stackalloc float[GgmlTypes.QK_K];
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            var yb = y.Slice(i * bytes, bytes);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                var xg = xb.Slice(32 * j, 32);
                float sumX2 = 0;
                for (int l = 0; l < 32; l++) sumX2 += xg[l] * xg[l];
                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[32 * j + l] = avX + MathF.Abs(xg[l]);
            }
            KQuantSearch.AffineScales8(xb, weights, 32, nmax, levels, scales, mins, rmin, 0.1f, nstep, useMad: false);
            for (int j = 0; j < 8; j++)
            {
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            var packed = yb.Slice(4, 12);
            for (int j = 0; j < 8; j++)
            {
                // uint8_t ls = nearest_int(...) in ggml: the int wraps to a byte before MIN(63, ·).
                int ls = Math.Min(63, (int)(byte)KQuantSearch.NearestInt(invScale * scales[j]));
                int lm = Math.Min(63, (int)(byte)KQuantSearch.NearestInt(invMin * mins[j]));
                if (j < 4)
                {
                    packed[j] = (byte)ls;
                    packed[j + 4] = (byte)lm;
                }
                else
                {
                    packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                    packed[j - 4] |= (byte)((ls >> 4) << 6);
                    packed[j] |= (byte)((lm >> 4) << 6);
                }
            }
            BlockBits.WriteHalf(yb, 0, maxScale / 63f);
            BlockBits.WriteHalf(yb, 2, maxMin / 63f);
            float dAll = BlockBits.ReadHalf(yb, 0), mAll = BlockBits.ReadHalf(yb, 2);
            for (int j = 0; j < 8; j++)
            {
                ScaleMin(packed, j, out int sc, out int m);
                float d = dAll * sc;
                if (d == 0) continue;
                float dm = mAll * m;
                for (int k = 0; k < 32; k++)
                    levels[32 * j + k] = (byte)Math.Max(0, Math.Min(nmax, KQuantSearch.NearestInt((xb[32 * j + k] + dm) / d)));
            }

            var qs = yb[(bits == 5 ? 48 : 16)..];
            var qh = yb.Slice(16, 32);
            if (bits == 5) qh.Clear();
            for (int p = 0; p < 4; p++)
            {
                for (int l = 0; l < 32; l++)
                {
                    int lo = levels[64 * p + l], hi = levels[64 * p + 32 + l];
                    if (bits == 5)
                    {
                        qh[l] |= (byte)(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
                        lo &= 0xF;
                        hi &= 0xF;
                    }
                    qs[32 * p + l] = (byte)(lo | (hi << 4));
                }
            }
        }
    }

    /// <summary>dequantize_row_q4_K / dequantize_row_q5_K.</summary>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x, int bits)
    {
        int bytes = Bytes(bits);
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var yb = y.Slice(i * bytes, bytes);
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            float dAll = BlockBits.ReadHalf(yb, 0), mAll = BlockBits.ReadHalf(yb, 2);
            var packed = yb.Slice(4, 12);
            var qs = yb[(bits == 5 ? 48 : 16)..];
            var qh = yb.Slice(16, 32);
            for (int j = 0; j < 8; j++)
            {
                ScaleMin(packed, j, out int sc, out int m);
                float d = dAll * sc, dm = mAll * m;
                int p = j / 2, shift = 4 * (j % 2);
                for (int l = 0; l < 32; l++)
                {
                    int q = (qs[32 * p + l] >> shift) & 0xF;
                    if (bits == 5 && (qh[l] & (1 << j)) != 0) q += 16;
                    xb[32 * j + l] = d * q - dm;
                }
            }
        }
    }

    /// <summary>get_scale_min_k4: the 6-bit scale and min of group <paramref name="j"/> from the 12 packed bytes.</summary>
    private static void ScaleMin(ReadOnlySpan<byte> q, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }
}
