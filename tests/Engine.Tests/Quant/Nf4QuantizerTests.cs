using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

public class Nf4QuantizerTests
{
    private static ReadOnlySpan<float> T => Nf4.Thresholds;

    [Fact]
    public void Code_values_and_thresholds_are_bitsandbytes_values()
    {
        Assert.Equal(16, Nf4.CodeValues.Length);
        Assert.Equal(15, Nf4.Thresholds.Length);
        Assert.Equal(-1f, Nf4.CodeValues[0]);
        Assert.Equal(0f, Nf4.CodeValues[7]);
        Assert.Equal(1f, Nf4.CodeValues[15]);
        Assert.Equal(0.07958029955625534f, Nf4.CodeValues[8]);
        Assert.Equal(-0.6961928009986877f, Nf4.CodeValues[1]);
        // Each threshold is the midpoint of its two neighbouring code values.
        for (int i = 0; i < 15; i++)
            Assert.Equal(((double)Nf4.CodeValues[i] + Nf4.CodeValues[i + 1]) / 2, T[i], 1e-7);
        float maxGap = 0;
        for (int i = 1; i < 16; i++) maxGap = Math.Max(maxGap, Nf4.CodeValues[i] - Nf4.CodeValues[i - 1]);
        Assert.Equal(maxGap, Nf4.MaxCodeGap);
        Assert.Equal(0.3038072f, Nf4.MaxCodeGap, 1e-7f);
    }

    [Fact]
    public void Hand_computed_block_codes_nibbles_and_absmax()
    {
        // absmax 1.0, whose fast reciprocal is exactly 1, so x = w.
        var w = new float[64];
        float[] head =
        [
            -1f, 1f,                                   // -absmax -> 0, +absmax -> 15
            T[0], float.BitIncrement(T[0]),            // on the first threshold -> 0, just above -> 1
            T[7], float.BitIncrement(T[7]),            // on 0.0398 -> 7, just above -> 8
            float.BitDecrement(T[7]), 0f,              // just below -> 7, zero -> 7
            -0f, T[14],                                // negative zero -> 7, on the last threshold -> 14
            float.BitIncrement(T[14]), T[6],           // just above it -> 15, on -0.0455 -> 6
            float.BitIncrement(T[6]), float.NaN,       // just above -> 7, NaN -> 0 (and ignored by absmax)
            0.5f, -0.5f,                               // 0.5 is below 0.5017 -> 12; -0.5 is below -0.46 -> 2
        ];
        head.CopyTo(w, 0);
        var q = Nf4Quantizer.Quantize(w);
        Assert.Equal(new[] { 1f }, q.Absmax);
        Assert.Equal(32, q.Packed.Length);
        byte[] expected = [0x0F, 0x01, 0x78, 0x77, 0x7E, 0xF6, 0x70, 0xC2];
        Assert.Equal(expected, q.Packed[..8]);
        Assert.All(q.Packed[8..], b => Assert.Equal(0x77, b));
    }

    [Fact]
    public void Block_with_absmax_three()
    {
        // 1/3 is not exact; these values are far enough from thresholds for either rounding of it.
        var w = new float[64];
        float[] head = [3f, -3f, 1f, -1.2f, 1.5f, -0.2f];
        head.CopyTo(w, 0);
        var q = Nf4Quantizer.Quantize(w);
        Assert.Equal(3f, q.Absmax[0]);
        // x = 1, -1, 0.333 (between 0.292 and 0.389 -> 11), -0.4 (-0.46 < x < -0.34 -> 3), 0.5 -> 12, -0.0667 -> 6
        Assert.Equal(new byte[] { 0xF0, 0xB3, 0xC6, 0x77 }, q.Packed[..4]);
        var back = new float[64];
        q.Dequantize(back);
        Assert.Equal(3f, back[0]);
        Assert.Equal(-3f, back[1]);
        Assert.Equal(Nf4.CodeValues[11] * 3f, back[2]);
        Assert.Equal(0f, back[63]);
    }

    [Fact]
    public void All_zero_block_has_absmax_zero_and_code_zero_like_the_kernel()
    {
        // absmax 0 -> reciprocal +inf -> x = 0 * inf = NaN -> code 0; dequantized -1 * 0 = -0.
        var q = Nf4Quantizer.Quantize(new float[64]);
        Assert.Equal(new[] { 0f }, q.Absmax);
        Assert.All(q.Packed, b => Assert.Equal(0, b));
        var back = new float[64];
        q.Dequantize(back);
        Assert.All(back, v => Assert.Equal(0x80000000u, BitConverter.SingleToUInt32Bits(v)));

        // Denormals are flushed to zero by the fast-math kernel, so such a block is an all-zero block.
        var denormal = Enumerable.Repeat(1e-39f, 64).ToArray();
        var qd = Nf4Quantizer.Quantize(denormal);
        Assert.Equal(new[] { 0f }, qd.Absmax);
        Assert.All(qd.Packed, b => Assert.Equal(0, b));
    }

    [Fact]
    public void All_nan_block_keeps_the_kernels_minus_flt_max_absmax()
    {
        var q = Nf4Quantizer.Quantize(Enumerable.Repeat(float.NaN, 64).ToArray());
        Assert.Equal(-float.MaxValue, q.Absmax[0]);
        Assert.All(q.Packed, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Odd_count_pads_with_the_code_of_zero()
    {
        var q = Nf4Quantizer.Quantize([1f, -1f, 0.5f, 0f, 0.25f]);
        Assert.Equal(new[] { 1f }, q.Absmax);
        // 0.25 is between 0.2035 and 0.2920 -> 10; the padding element (0) -> 7.
        Assert.Equal(new byte[] { 0xF0, 0xC7, 0xA7 }, q.Packed);
        var back = new float[5];
        q.Dequantize(back);
        Assert.Equal(new[] { 1f, -1f, Nf4.CodeValues[12], 0f, Nf4.CodeValues[10] }, back);

        // With absmax 0 the padding is NaN too, code 0.
        Assert.Equal(new byte[] { 0, 0 }, Nf4Quantizer.Quantize(new float[3]).Packed);
    }

    [Fact]
    public void Partial_last_block_gets_its_own_absmax()
    {
        var w = new float[70];
        w[5] = -2f;
        w[66] = 0.25f;
        w[69] = -0.5f;
        var q = Nf4Quantizer.Quantize(w);
        Assert.Equal(new[] { 2f, 0.5f }, q.Absmax);
        Assert.Equal(35, q.Packed.Length);
        Assert.Equal(0x70, q.Packed[2]);     // elements 4, 5: 0 -> 7, -2/2 -> 0
        Assert.Equal(0xC7, q.Packed[33]);    // elements 66, 67: 0.25 / 0.5 = 0.5 -> 12, 0 -> 7
        Assert.Equal(0x70, q.Packed[34]);    // elements 68, 69: 0 -> 7, -0.5 / 0.5 -> 0
    }

    [Fact]
    public void Vector_and_scalar_paths_agree_on_random_and_special_values()
    {
        var rng = new Rng(11);
        var w = new float[4096 + 37];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextNormal() * 0.02f;
        w[3] = float.NaN;
        w[100] = 1e-39f;
        w[200] = -0f;
        w[4100] = float.PositiveInfinity;
        var q = Nf4Quantizer.Quantize(w);
        for (int b = 0; b < q.Absmax.Length; b++)
        {
            int start = b * 64, len = Math.Min(64, w.Length - start);
            float r = CudaFastReciprocal.Reciprocal(q.Absmax[b]);
            for (int i = 0; i < len; i++)
            {
                int e = start + i;
                int expected = Nf4.Encode(Nf4Quantizer.Scale(w[e], r));
                int got = (e & 1) == 0 ? q.Packed[e / 2] >> 4 : q.Packed[e / 2] & 0xF;
                Assert.True(expected == got, $"element {e}: w={w[e]} absmax={q.Absmax[b]} expected {expected} got {got}");
            }
        }
        // The block holding +inf: absmax inf, reciprocal 0, inf * 0 = NaN -> code 0, finite * 0 = 0 -> code 7.
        Assert.Equal(float.PositiveInfinity, q.Absmax[4100 / 64]);
        Assert.Equal(0, q.Packed[4100 / 2] >> 4);
        Assert.Equal(7, q.Packed[4100 / 2] & 0xF);
    }

    [Fact]
    public void Round_trip_error_is_within_half_the_largest_code_gap()
    {
        var rng = new Rng(12);
        const int n = 256 * 300 + 17; // parallel path, partial last block
        var w = new float[n];
        for (int i = 0; i < n; i++) w[i] = HalfConversions.BF16ToFloat(HalfConversions.FloatToBF16((float)rng.NextNormal() * 0.02f));
        var q = Nf4Quantizer.Quantize(w);
        var back = new float[n];
        q.Dequantize(back);
        for (int i = 0; i < n; i++)
        {
            float absmax = q.Absmax[i / 64];
            double bound = absmax * (Nf4.MaxCodeGap / 2.0) * (1 + 1e-6);
            Assert.True(Math.Abs(w[i] - back[i]) <= bound, $"element {i}: {w[i]} -> {back[i]}, bound {bound}");
            Assert.True(Math.Abs(back[i]) <= absmax);
        }
        // Each block's largest element is reproduced exactly (code 0 or 15 times absmax).
        for (int b = 0; b < q.Absmax.Length; b++)
        {
            int start = b * 64, len = Math.Min(64, n - start);
            int arg = start;
            for (int i = start; i < start + len; i++) if (Math.Abs(w[i]) > Math.Abs(w[arg])) arg = i;
            Assert.Equal(w[arg], back[arg]);
        }
    }

    [Fact]
    public void Bf16_input_and_output_match_the_fp32_paths()
    {
        var rng = new Rng(13);
        const int n = 64 * 40 + 9;
        var bits = new ushort[n];
        var floats = new float[n];
        for (int i = 0; i < n; i++)
        {
            bits[i] = HalfConversions.FloatToBF16((float)rng.NextNormal());
            floats[i] = HalfConversions.BF16ToFloat(bits[i]);
        }
        var a = Nf4Quantizer.Quantize(floats);
        var b = Nf4Quantizer.QuantizeBf16(bits);
        Assert.Equal(a.Packed, b.Packed);
        Assert.Equal(a.Absmax, b.Absmax);

        var f32 = new float[n];
        var bf16 = new ushort[n];
        a.Dequantize(f32);
        a.DequantizeBf16(bf16);
        for (int i = 0; i < n; i++) Assert.Equal(HalfConversions.FloatToBF16(f32[i]), bf16[i]);
    }

    [Fact]
    public void Dequantize_range_matches_the_full_array_from_any_start()
    {
        var rng = new Rng(14);
        const int n = 64 * 9 + 5;
        var w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float)rng.NextNormal();
        var q = Nf4Quantizer.Quantize(w);
        var full = new float[n];
        q.Dequantize(full);
        foreach (var (start, count) in new[] { (0, n), (1, 10), (63, 3), (64, 64), (127, 130), (n - 1, 1), (300, 0) })
        {
            var part = new float[count];
            Nf4Quantizer.DequantizeRange(q.Packed, q.Absmax, 64, start, part);
            Assert.Equal(full.AsSpan(start, count).ToArray(), part);
        }
        Assert.Throws<ArgumentException>(() => Nf4Quantizer.DequantizeRange(q.Packed, q.Absmax, 64, n - 1, new float[3]));
    }

    [Fact]
    public void Argument_checks()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Nf4Quantizer.Quantize(new float[64], blockSize: 48));
        Assert.Throws<ArgumentOutOfRangeException>(() => Nf4Quantizer.Quantize(new float[64], blockSize: 8192));
        Assert.Throws<ArgumentException>(() => Nf4Quantizer.Quantize(new float[64], new byte[31], new float[1]));
        Assert.Throws<ArgumentException>(() => Nf4Quantizer.Quantize(new float[64], new byte[32], new float[2]));
        var q = Nf4Quantizer.Quantize(new float[64]);
        Assert.Throws<ArgumentException>(() => q.Dequantize(new float[63]));
        // Other block sizes work the same way.
        var q128 = Nf4Quantizer.Quantize(Enumerable.Range(0, 256).Select(i => (float)i).ToArray(), blockSize: 128);
        Assert.Equal(new[] { 127f, 255f }, q128.Absmax);
    }
}
