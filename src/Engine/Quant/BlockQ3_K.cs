using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>ggml block_q3_K = { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d } for 256 values, quantized
/// exactly like quantize_row_q3_K_ref: each 16-value group gets a symmetric scale from make_q3_quants (nmax 4, with its
/// level-by-level refinement; see <see cref="IterativeSymmetricSearch"/>); the group scales are quantized to
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

    public static unsafe void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        const int batch = IterativeSymmetricSearch.MaxGroups / Groups;
        var searchLevels = stackalloc float[batch * GgmlTypes.QK_K];
        var scales = stackalloc float[batch * Groups];
        var levels = stackalloc int[GgmlTypes.QK_K];
        int blocks = x.Length / GgmlTypes.QK_K;
        for (int first = 0; first < blocks; first += batch)
        {
            int count = Math.Min(batch, blocks - first);
            IterativeSymmetricSearch.Scales(x.Slice(first * GgmlTypes.QK_K, count * GgmlTypes.QK_K), 4,
                new Span<float>(scales, count * Groups), new Span<float>(searchLevels, count * GgmlTypes.QK_K));
            for (int b = 0; b < count; b++)
                Block(x.Slice((first + b) * GgmlTypes.QK_K, GgmlTypes.QK_K), scales + b * Groups, searchLevels + b * GgmlTypes.QK_K,
                    levels, y.Slice((first + b) * Bytes, Bytes));
        }
    }

    /// <summary>One block from its 16 group scales and search levels (in <see cref="IterativeSymmetricSearch.Scales"/>'
    /// layout): the 6-bit scales, d, the re-rounded levels and their packing. <paramref name="levels"/> is 256 ints of
    /// scratch.</summary>
    private static unsafe void Block(ReadOnlySpan<float> xb, float* scales, float* searchLevels, int* levels, Span<byte> yb)
    {
        float maxScale = 0, amax = 0;
        for (int g = 0; g < Groups; g++)
        {
            float abs = MathF.Abs(scales[g]);
            if (abs > amax) { amax = abs; maxScale = scales[g]; }
        }

        // sc: each group's signed 6-bit scale as ggml reads it back from the packed bytes (-32 for all when none).
        var sc = stackalloc int[Groups];
        var packed = yb.Slice(96, 12);
        packed.Clear();
        if (maxScale != 0)
        {
            float iscale = -32f / maxScale;
            for (int g = 0; g < Groups; g++)
            {
                // int8_t l = nearest_int(...): the int is narrowed to a byte before clamping.
                int s = Math.Max(-32, Math.Min(31, (int)(sbyte)KQuantSearch.NearestInt(iscale * scales[g])));
                sc[g] = s;
                int l = s + 32;
                if (g < 8) packed[g] = (byte)(l & 0xF);
                else packed[g - 8] |= (byte)((l & 0xF) << 4);
                packed[8 + g % 4] |= (byte)((l >> 4) << (2 * (g / 4)));
            }
            BlockBits.WriteHalf(yb, 108, 1 / iscale);
        }
        else
        {
            for (int g = 0; g < Groups; g++) sc[g] = -32;
            BlockBits.WriteHalf(yb, 108, 0f);
        }

        float dAll = BlockBits.ReadHalf(yb, 108);
        fixed (float* px = xb)
        {
            for (int g = 0; g < Groups; g++)
            {
                float d = dAll * sc[g];
                if (d == 0)
                {
                    // ggml keeps make_q3_quants' levels for this group.
                    for (int k = 0; k < 16; k++) levels[16 * g + k] = (int)searchLevels[128 * (g / 8) + 8 * k + g % 8];
                    continue;
                }
                var dv = Vector256.Create(d);
                Reround(Vector256.Load(px + 16 * g) / dv).Store(levels + 16 * g);
                Reround(Vector256.Load(px + 16 * g + 8) / dv).Store(levels + 16 * g + 8);
            }
        }

        // Levels 32k..32k+31 as bytes; bit 2 of each goes to hmask (bit k of byte j % 32), the low 2 bits to qs.
        var hmask = Vector256<byte>.Zero;
        var qs0 = Vector256<byte>.Zero;
        var qs1 = Vector256<byte>.Zero;
        var three = Vector256.Create((byte)3);
        for (int k = 0; k < 8; k++)
        {
            var c = Bytes32(levels + 32 * k);
            hmask |= Vector256.GreaterThan(c, three) & Vector256.Create((byte)(1 << k));
            // (c & 3) << 2·(k % 4) stays inside each byte (at most 3 << 6), so the 16-bit shift is the byte shift.
            var low = ((c & three).AsUInt16() << (2 * (k % 4))).AsByte();
            if (k < 4) qs0 |= low;
            else qs1 |= low;
        }
        hmask.CopyTo(yb);
        qs0.CopyTo(yb[32..]);
        qs1.CopyTo(yb[64..]);
    }

    /// <summary>clamp(nearest_int(q), -4, 3) + 4, with ggml's nearest_int bit for bit (the low mantissa bits of
    /// q + 1.5·2^23 less 2^22).</summary>
    private static Vector256<int> Reround(Vector256<float> q)
    {
        var bits = ((q + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000);
        return Vector256.Min(Vector256.Create(3), Vector256.Max(Vector256.Create(-4), bits)) + Vector256.Create(4);
    }

    /// <summary>32 ints in 0..7 as 32 bytes, in order.</summary>
    private static unsafe Vector256<byte> Bytes32(int* v) =>
        Vector256.Narrow(Vector256.Narrow(Vector256.Load(v), Vector256.Load(v + 8)), Vector256.Narrow(Vector256.Load(v + 16), Vector256.Load(v + 24))).AsByte();

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
