namespace Engine.Quant;

/// <summary>ggml block_q3_K = { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d } for 256 values, quantized
/// exactly like quantize_row_q3_K_ref: each 16-value group gets a symmetric scale from make_q3_quants (nmax 4, with its
/// level-by-level refinement; see <see cref="KQuantSearch.IterativeSymmetricScales8"/>); the group scales are quantized to
/// 6 bits against the largest-magnitude one (iscale = -32/max, stored as clamp(nearest_int(iscale·s), -32, 31) + 32,
/// d = fp16(1/iscale)); every value is then re-rounded to clamp(nearest_int(x/(d·sc)), -4, 3) + 4. Dequantized as
/// d·(sc - 32)·(q - 4). The low 2 bits of the values are packed as q2_K's; bit 2 of value j is bit j/32 of
/// hmask[j % 32]. Scale j's low nibble is in scales[j] (j &lt; 8) or the high nibble of scales[j - 8], and its top 2
/// bits in scales[8 + j % 4] at bit 2·(j / 4).</summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class BlockQ3_K
{
    public const int Bytes = 110;
    private const int Groups = GgmlTypes.QK_K / 16;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[GgmlTypes.QK_K];
        Span<byte> low = stackalloc byte[GgmlTypes.QK_K];
        Span<float> scales = stackalloc float[Groups];
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            var yb = y.Slice(i * Bytes, Bytes);
            float maxScale = 0, amax = 0;
            KQuantSearch.IterativeSymmetricScales8(xb[..128], 4, levels[..128], scales[..8]);
            KQuantSearch.IterativeSymmetricScales8(xb[128..], 4, levels[128..], scales[8..]);
            for (int g = 0; g < Groups; g++)
            {
                float abs = MathF.Abs(scales[g]);
                if (abs > amax) { amax = abs; maxScale = scales[g]; }
            }

            var packed = yb.Slice(96, 12);
            packed.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int g = 0; g < Groups; g++)
                {
                    // int8_t l = nearest_int(...): the int is narrowed to a byte before clamping.
                    int l = Math.Max(-32, Math.Min(31, (int)(sbyte)KQuantSearch.NearestInt(iscale * scales[g]))) + 32;
                    if (g < 8) packed[g] = (byte)(l & 0xF);
                    else packed[g - 8] |= (byte)((l & 0xF) << 4);
                    packed[8 + g % 4] |= (byte)((l >> 4) << (2 * (g / 4)));
                }
                BlockBits.WriteHalf(yb, 108, 1 / iscale);
            }
            else
            {
                BlockBits.WriteHalf(yb, 108, 0f);
            }

            float dAll = BlockBits.ReadHalf(yb, 108);
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * Scale(packed, g);
                if (d == 0) continue;
                for (int k = 0; k < 16; k++)
                    levels[16 * g + k] = (sbyte)(Math.Max(-4, Math.Min(3, KQuantSearch.NearestInt(xb[16 * g + k] / d))) + 4);
            }

            var hmask = yb[..32];
            hmask.Clear();
            for (int j = 0; j < GgmlTypes.QK_K; j++)
            {
                int l = levels[j];
                if (l > 3)
                {
                    hmask[j % 32] |= (byte)(1 << (j / 32));
                    l -= 4;
                }
                low[j] = (byte)l;
            }
            BlockQ2_K.PackTwoBits(low, yb.Slice(32, 64));
        }
    }

    /// <summary>The signed 6-bit scale (sc - 32) of group <paramref name="g"/> from the 12 packed bytes.</summary>
    private static int Scale(ReadOnlySpan<byte> packed, int g)
    {
        int lowBits = g < 8 ? packed[g] & 0xF : packed[g - 8] >> 4;
        return (lowBits | (((packed[8 + g % 4] >> (2 * (g / 4))) & 3) << 4)) - 32;
    }

    /// <summary>dequantize_row_q3_K.</summary>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int i = 0; i < x.Length / GgmlTypes.QK_K; i++)
        {
            var yb = y.Slice(i * Bytes, Bytes);
            var xb = x.Slice(i * GgmlTypes.QK_K, GgmlTypes.QK_K);
            float dAll = BlockBits.ReadHalf(yb, 108);
            var hmask = yb[..32];
            var qs = yb.Slice(32, 64);
            var packed = yb.Slice(96, 12);
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * Scale(packed, g);
                for (int k = 0; k < 16; k++)
                {
                    int j = 16 * g + k;
                    int q = BlockQ2_K.TwoBits(qs, j) - ((hmask[j % 32] & (1 << (j / 32))) != 0 ? 0 : 4);
                    xb[j] = d * q;
                }
            }
        }
    }
}
