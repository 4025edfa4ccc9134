using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>q8_0/q8_1 activation blocks against a float64 restatement of ggml's AVX2 quantize_row_q8_0/q8_1 rule:
/// d = fp32(amax/127) stored as fp16, id = fp32(127/amax) (0 when amax = 0), q = fp32(x·id) rounded half to even,
/// s = fp16(fp32(d·Σq)). Each fp32 operation is computed in float64 (exact for a product of two floats, and for these
/// quotients the double rounding to fp32 is innocuous) and then rounded to fp32 once.</summary>
public class Q8ActivationsTests
{
    /// <summary>ggml-cpu's x86 <c>quantize_row_q8_0</c> (and q8_1) restated in float64: 127/amax, ties to even.</summary>
    internal static byte[] Reference(float[] x, bool q81)
    {
        int bytes = q81 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes, qs = bytes - 32;
        var y = new byte[x.Length / 32 * bytes];
        for (int b = 0; b < x.Length / 32; b++)
        {
            double amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs((double)x[b * 32 + j]));
            float d = (float)(amax / 127.0);
            float id = amax != 0 ? (float)(127.0 / amax) : 0f;
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                int q = (int)Math.Round((double)(float)((double)x[b * 32 + j] * id), MidpointRounding.ToEven);
                y[b * bytes + qs + j] = (byte)(sbyte)q;
                sum += q;
            }
            BitConverter.TryWriteBytes(y.AsSpan(b * bytes), BitConverter.HalfToUInt16Bits((Half)d));
            if (q81) BitConverter.TryWriteBytes(y.AsSpan(b * bytes + 2), BitConverter.HalfToUInt16Bits((Half)(float)((double)d * sum)));
        }
        return y;
    }

    /// <summary>Random blocks plus the edge cases: an all-zero block, exact ties, an all-negative block, a single
    /// nonzero (-0 elsewhere), huge (1e6, 1e30: d overflows fp16 to inf) and tiny (1e-6, 1e-9: d underflows fp16)
    /// magnitudes.</summary>
    private static float[] Inputs()
    {
        var rng = new Rng(41);
        var x = new float[32 * 40];
        rng.FillNormal(x, 0.3, 2.0);
        var blocks = x.AsSpan();
        blocks.Slice(32 * 1, 32).Clear();
        var ties = blocks.Slice(32 * 2, 32);
        ties.Clear();
        float[] t = { 127f, 2.5f, -2.5f, 3.5f, 0.5f, -0.5f, 1.5f, -126.5f };
        t.CopyTo(ties);
        for (int j = 0; j < 32; j++) blocks[32 * 3 + j] = -MathF.Abs(blocks[32 * 3 + j]) - 0.01f;
        blocks.Slice(32 * 4, 32).Fill(-0f);
        blocks[32 * 4 + 17] = 3.25f;
        for (int j = 0; j < 32; j++)
        {
            blocks[32 * 5 + j] *= 1e6f;
            blocks[32 * 6 + j] *= 1e30f;
            blocks[32 * 7 + j] *= 1e-6f;
            blocks[32 * 8 + j] *= 1e-9f;
        }
        return x;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bytes_equal_the_float64_reference(bool q81)
    {
        var x = Inputs();
        int bytes = q81 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        var y = new byte[x.Length / 32 * bytes];
        if (q81) Q8Activations.QuantizeQ8_1(x, y);
        else Q8Activations.QuantizeQ8_0(x, y);
        Assert.Equal(Reference(x, q81), y);

        // The tie block by hand: amax 127 -> d = 1 (3C00), id = 1; 2.5 -> 2, -2.5 -> -2, 3.5 -> 4, ±0.5 -> 0,
        // 1.5 -> 2, -126.5 -> -126 (ties to even, where ggml's reference quantizer would round away from zero).
        var tie = y.AsSpan(2 * bytes, bytes);
        Assert.Equal(0x3C00, BitConverter.ToUInt16(tie));
        var q = tie[(bytes - 32)..].ToArray().Select(b => (int)(sbyte)b).Take(8).ToArray();
        Assert.Equal(new[] { 127, 2, -2, 4, 0, 0, 2, -126 }, q);
        if (q81) Assert.Equal((Half)(127 + 2 - 2 + 4 + 2 - 126), BitConverter.ToHalf(tie[2..]));
        // The all-zero block: d = 0, all codes 0 (and s = 0).
        Assert.True(y.AsSpan(bytes, bytes).IndexOfAnyExcept((byte)0) < 0);
        // No code is -128.
        for (int b = 0; b < x.Length / 32; b++)
            Assert.DoesNotContain((byte)0x80, y.AsSpan(b * bytes + bytes - 32, 32).ToArray());
    }

    /// <summary>Decoded values are within half a step of x: |x - q·fp16(d)| ≤ d·(1/2 + 1e-4) + 127·|d - fp16(d)|, d the fp32
    /// scale (the 1e-4 covers the fp32 rounding of id and x·id, at most 2·127·2^-24 of a step; the last term is what
    /// storing d as fp16 costs, large only where fp16 underflows).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoded_values_are_within_half_a_step(bool q81)
    {
        var x = Inputs();
        int bytes = q81 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        var y = new byte[x.Length / 32 * bytes];
        var back = new float[x.Length];
        if (q81)
        {
            Q8Activations.QuantizeQ8_1(x, y);
            Q8Activations.DequantizeQ8_1(y, back);
        }
        else
        {
            Q8Activations.QuantizeQ8_0(x, y);
            Q8Activations.DequantizeQ8_0(y, back);
        }
        int checkedBlocks = 0;
        for (int b = 0; b < x.Length / 32; b++)
        {
            double amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
            float d = (float)(amax / 127.0);
            float d16 = (float)BitConverter.ToHalf(y, b * bytes);
            if (float.IsInfinity(d16)) continue; // the 1e30 block: its scale does not fit fp16
            double bound = d * (0.5 + 1e-4) + 127 * Math.Abs(d - d16);
            for (int j = 0; j < 32; j++)
                Assert.True(Math.Abs(x[b * 32 + j] - (double)back[b * 32 + j]) <= bound, $"block {b} value {j}: {x[b * 32 + j]} decoded as {back[b * 32 + j]}, bound {bound}");
            checkedBlocks++;
        }
        Assert.Equal(x.Length / 32 - 1, checkedBlocks);
    }

    [Fact]
    public void Wrong_lengths_are_rejected_with_what_was_expected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Q8Activations.QuantizeQ8_0(new float[40], new byte[34]));
        Assert.Contains("multiple of 32", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Q8Activations.QuantizeQ8_1(new float[64], new byte[70]));
        Assert.Contains("72 bytes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Q8Activations.DequantizeQ8_0(new byte[34], new float[64]));
        Assert.Contains("68 bytes", ex.Message);
        Assert.Throws<ArgumentException>(() => Q8Activations.DequantizeQ8_1(new byte[34], new float[32]));
    }
}
