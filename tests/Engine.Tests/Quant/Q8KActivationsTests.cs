using System.Buffers.Binary;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>q8_K activation blocks against a float64 re-statement of ggml's quantize_row_q8_K_ref: per 256 values the
/// first value of largest magnitude is max; a block whose largest magnitude is 0 is all zero bytes; otherwise
/// iscale = fp32(-127/max), q = min(127, round-half-even(fp32(iscale·x))) and d = fp32(1/iscale) (each fp32 rounding
/// reproduced exactly by rounding the float64 result, which is exact for a product or quotient of two floats);
/// bsums[g] = Σ q[16g..16g+15].</summary>
public class Q8KActivationsTests
{
    private static byte[] Reference(float[] x)
    {
        var y = new byte[x.Length / 256 * 292];
        for (int b = 0; b < x.Length / 256; b++)
        {
            var blk = y.AsSpan(b * 292, 292);
            int at = -1;
            double amax = 0;
            for (int j = 0; j < 256; j++)
            {
                double a = Math.Abs((double)x[256 * b + j]);
                if (a > amax) { amax = a; at = j; }
            }
            if (at < 0) continue;
            float iscale = (float)(-127.0 / x[256 * b + at]);
            var q = new int[256];
            for (int j = 0; j < 256; j++)
                q[j] = Math.Min(127, (int)Math.Round((double)(float)((double)iscale * x[256 * b + j]), MidpointRounding.ToEven));
            BinaryPrimitives.WriteSingleLittleEndian(blk, (float)(1.0 / iscale));
            for (int j = 0; j < 256; j++) blk[4 + j] = (byte)(sbyte)q[j];
            for (int g = 0; g < 16; g++)
                BinaryPrimitives.WriteInt16LittleEndian(blk[(260 + 2 * g)..], (short)q.Skip(16 * g).Take(16).Sum());
        }
        return y;
    }

    private static byte[] Quantize(float[] x)
    {
        var y = new byte[x.Length / 256 * Q8KActivations.BlockBytes];
        Q8KActivations.Quantize(x, y);
        return y;
    }

    [Fact]
    public void Random_blocks_match_the_reference_bytes_and_dequantize_within_half_a_step()
    {
        var rng = new Rng(5);
        var x = new float[256 * 24];
        rng.FillNormal(x, 0.2, 1.7);
        x.AsSpan(256 * 3, 256).Clear();                                  // all zero
        for (int i = 256 * 4; i < 256 * 5; i++) x[i] *= 1e-30f;          // tiny
        for (int i = 256 * 5; i < 256 * 6; i++) x[i] = -MathF.Abs(x[i]); // all negative
        for (int i = 256 * 6; i < 256 * 7; i++) x[i] = rng.NextInt(9) - 4; // many equal magnitudes
        x[256 * 7 + 200] = -1e6f;                                        // one outlier
        x[256 * 8 + 3] = float.PositiveInfinity;                         // non-finite blocks (the scalar path)
        x[256 * 9 + 100] = float.NaN;
        for (int i = 256 * 10; i < 256 * 11; i++) x[i] = (i % 7 - 3) * 0.5f; // many ties at ±1.5
        var y = Quantize(x);
        Assert.Equal(Reference(x), y);

        var back = new float[x.Length];
        Q8KActivations.Dequantize(y, back);
        for (int b = 0; b < x.Length / 256; b++)
        {
            if (b is 8 or 9) continue; // inf / NaN: bytes checked above, no error bound
            var blk = y.AsSpan(b * 292, 292);
            float d = BinaryPrimitives.ReadSingleLittleEndian(blk);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += (sbyte)blk[4 + 16 * g + l];
                Assert.Equal(sum, BinaryPrimitives.ReadInt16LittleEndian(blk[(260 + 2 * g)..]));
            }
            for (int j = 0; j < 256; j++)
            {
                int i = 256 * b + j;
                Assert.Equal(d * (sbyte)blk[4 + j], back[i]);
                // Half a step, plus the fp32 roundings of iscale, iscale·x and d·q (each ≤ 2^-24 relative, on up to 127 steps).
                Assert.True(Math.Abs(x[i] - back[i]) <= Math.Abs(d) * (0.5 + 3 * 127 * Math.Pow(2, -24)), $"value {i}: {x[i]} came back as {back[i]} (d {d})");
            }
        }
    }

    [Fact]
    public void All_zero_block_is_all_zero_bytes()
    {
        var y = Quantize(new float[512]);
        Assert.All(y, v => Assert.Equal(0, v));
        var x = new float[256];
        x[9] = -0f;
        Assert.All(Quantize(x), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Largest_negative_value_gives_positive_d_and_minus_127()
    {
        // max = -127: iscale = 1, d = 1; the largest value is stored as -127, and the values as themselves.
        var x = new float[256];
        x[0] = 3f;
        x[5] = -127f;
        x[17] = 126f;
        var y = Quantize(x);
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(y));
        Assert.Equal(3, (sbyte)y[4]);
        Assert.Equal(-127, (sbyte)y[4 + 5]);
        Assert.Equal(126, (sbyte)y[4 + 17]);
        Assert.Equal(3 - 127, BinaryPrimitives.ReadInt16LittleEndian(y.AsSpan(260)));
        Assert.Equal(126, BinaryPrimitives.ReadInt16LittleEndian(y.AsSpan(262)));
    }

    [Fact]
    public void Largest_positive_value_gives_negative_d_and_the_first_of_equal_magnitudes_wins()
    {
        // +254 first, -254 later: max = +254, iscale = -0.5, d = -2; 254 -> -127, -254 -> 127.
        var x = new float[256];
        x[1] = 254f;
        x[2] = -254f;
        var y = Quantize(x);
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(y));
        Assert.Equal(-127, (sbyte)y[5]);
        Assert.Equal(127, (sbyte)y[6]);

        Array.Reverse(x, 1, 2); // -254 first: max = -254, iscale = 0.5, d = 2; -254 -> -127, 254 -> 127
        y = Quantize(x);
        Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(y));
        Assert.Equal(-127, (sbyte)y[5]);
        Assert.Equal(127, (sbyte)y[6]);
    }

    [Fact]
    public void Halves_round_to_even()
    {
        // max = -127: iscale = 1 exactly, so q = round-half-even(x).
        var x = new float[256];
        x[0] = -127f;
        float[] halves = [0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 125.5f, 126.5f];
        int[] expected = [0, 2, 2, 0, -2, -2, 126, 126];
        halves.CopyTo(x, 1);
        var y = Quantize(x);
        for (int i = 0; i < halves.Length; i++) Assert.Equal(expected[i], (sbyte)y[5 + i]);
        Assert.Equal(Reference(x), y);
    }

    [Fact]
    public void Wrong_lengths_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Q8KActivations.Quantize(new float[300], new byte[292]));
        Assert.Contains("256", e.Message);
        e = Assert.Throws<ArgumentException>(() => Q8KActivations.Quantize(new float[512], new byte[292]));
        Assert.Contains("584", e.Message);
        e = Assert.Throws<ArgumentException>(() => Q8KActivations.Dequantize(new byte[291], new float[256]));
        Assert.Contains("292", e.Message);
        Assert.Throws<ArgumentException>(() => Q8KActivations.Dequantize(new byte[292], new float[100]));
    }
}
