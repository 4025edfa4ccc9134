using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

public class GgmlBlocksTests
{
    [Theory]
    [InlineData(nameof(GgmlType.F32), 1, 4)]
    [InlineData(nameof(GgmlType.F16), 1, 2)]
    [InlineData(nameof(GgmlType.BF16), 1, 2)]
    [InlineData(nameof(GgmlType.Q4_0), 32, 18)]
    [InlineData(nameof(GgmlType.Q4_1), 32, 20)]
    [InlineData(nameof(GgmlType.Q5_0), 32, 22)]
    [InlineData(nameof(GgmlType.Q5_1), 32, 24)]
    [InlineData(nameof(GgmlType.Q8_0), 32, 34)]
    [InlineData(nameof(GgmlType.Q2_K), 256, 84)]
    [InlineData(nameof(GgmlType.Q3_K), 256, 110)]
    [InlineData(nameof(GgmlType.Q4_K), 256, 144)]
    [InlineData(nameof(GgmlType.Q5_K), 256, 176)]
    [InlineData(nameof(GgmlType.Q6_K), 256, 210)]
    public void BlockGeometryMatchesGgml(string typeName, int blockSize, int typeSize)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        Assert.Equal(blockSize, type.BlockSize());
        Assert.Equal(typeSize, type.TypeSize());
        Assert.Equal(4096L / blockSize * typeSize, type.RowSize(4096));
        Assert.True(GgmlTypes.TryParse(type.Name(), out var parsed));
        Assert.Equal(type, parsed);
    }

    [Fact]
    public void TypeIdsAreGgmls()
    {
        Assert.Equal(new uint[] { 0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 30 }, Enum.GetValues<GgmlType>().Select(t => (uint)t).ToArray());
        Assert.Equal("q4_K", GgmlTypes.DescribeId(12));
        Assert.Equal("q3_K", GgmlTypes.DescribeId(11));
        Assert.Equal("iq4_xs", GgmlTypes.DescribeId(23));
        Assert.True(GgmlTypes.TryParse("q6_k", out var q6) && q6 == GgmlType.Q6_K);
    }

    [Fact]
    public void RowsThatAreNotWholeBlocksAreRejectedClearly()
    {
        var x = new float[172 * 2];
        var ex = Assert.Throws<EngineException>(() => GgmlBlocks.Quantize(GgmlType.Q4_0, x, new byte[1000], rowLength: 172));
        Assert.Contains("q4_0", ex.Message);
        Assert.Contains("172", ex.Message);
        Assert.Contains("32", ex.Message);
        Assert.Throws<EngineException>(() => GgmlBlocks.Quantize(GgmlType.Q8_0, new float[40], new byte[100]));
    }

    /// <summary>k-quants: every value is within one quantization step of its group (16 values for q6_K, whose step is
    /// at most max|x|/31 of the group up to the 8-bit scale's rounding; 32 for q4_K/q5_K, whose step is at most
    /// (max - min(0, min))/nmax of the group up to the 6-bit scale's and min's rounding), and the RMS error relative to
    /// the data's RMS is near step/sqrt(12), what uniform rounding error gives (measured 0.017, 0.036, 0.071).</summary>
    [Theory]
    [InlineData(nameof(GgmlType.Q6_K), 16, 31, 0.022)]
    [InlineData(nameof(GgmlType.Q5_K), 32, 31, 0.045)]
    [InlineData(nameof(GgmlType.Q4_K), 32, 15, 0.085)]
    public void K_quant_round_trip_error_stays_within_one_step(string typeName, int group, int nmax, double rmsBound)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(12);
        var x = new float[256 * 64];
        rng.FillNormal(x, 0.1, 1.3);
        x.AsSpan(256, 256).Clear(); // an all-zero super-block
        for (int i = 512; i < 768; i++) x[i] *= 1e-3f; // a tiny one
        var q = new byte[type.RowSize(x.Length)];
        GgmlBlocks.Quantize(type, x, q);
        var y = new float[x.Length];
        GgmlBlocks.Dequantize(type, q, y);

        double sumSq = 0, sumErrSq = 0, worst = 0;
        for (int g = 0; g < x.Length / group; g++)
        {
            var xg = x.AsSpan(g * group, group);
            float min = 0, max = 0, amax = 0;
            foreach (var v in xg) { min = Math.Min(min, v); max = Math.Max(max, v); amax = Math.Max(amax, Math.Abs(v)); }
            double step = type == GgmlType.Q6_K ? amax / 31.0 : (max - min) / nmax;
            for (int i = 0; i < group; i++)
            {
                double err = Math.Abs(y[g * group + i] - xg[i]);
                worst = Math.Max(worst, err / (step + 1e-30));
                sumErrSq += err * err;
                sumSq += (double)xg[i] * xg[i];
            }
        }
        Assert.All(y.AsSpan(256, 256).ToArray(), v => Assert.Equal(0f, v));
        Assert.True(worst <= 1.1, $"worst error {worst:F3} steps");
        double rel = Math.Sqrt(sumErrSq / sumSq);
        Assert.True(rel <= rmsBound, $"relative RMS error {rel:E3} > {rmsBound}");
    }

    /// <summary>Error bounds from the formulas: round-to-nearest types err by at most half a step, the clamped
    /// symmetric types (q4_0, q5_0) by at most one step for the value opposite the block maximum; the fp16 scale and
    /// minimum add a relative 2^-11 each.</summary>
    [Theory]
    [InlineData(nameof(GgmlType.Q8_0))]
    [InlineData(nameof(GgmlType.Q4_0))]
    [InlineData(nameof(GgmlType.Q4_1))]
    [InlineData(nameof(GgmlType.Q5_0))]
    [InlineData(nameof(GgmlType.Q5_1))]
    public void RoundTripErrorStaysWithinOneStep(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(11);
        var x = new float[32 * 256];
        rng.FillNormal(x, 0.3, 1.7);
        var q = new byte[type.RowSize(x.Length)];
        GgmlBlocks.Quantize(type, x, q);
        var y = new float[x.Length];
        GgmlBlocks.Dequantize(type, q, y);

        double sumSq = 0, sumStepSq = 0;
        for (int b = 0; b < x.Length / 32; b++)
        {
            var xb = x.AsSpan(b * 32, 32);
            float min = float.MaxValue, max = float.MinValue, amax = 0;
            foreach (var v in xb) { min = Math.Min(min, v); max = Math.Max(max, v); amax = Math.Max(amax, Math.Abs(v)); }
            double step = type switch
            {
                GgmlType.Q8_0 => amax / 127.0,
                GgmlType.Q4_0 => amax / 8.0,
                GgmlType.Q5_0 => amax / 16.0,
                GgmlType.Q4_1 => (max - min) / 15.0,
                _ => (max - min) / 31.0,
            };
            double levels = type is GgmlType.Q8_0 ? 127 : type is GgmlType.Q4_0 or GgmlType.Q4_1 ? 16 : 32;
            double fp16 = (levels * step + Math.Abs(min)) * Math.Pow(2, -11);
            double bound = (type is GgmlType.Q4_0 or GgmlType.Q5_0 ? step : 0.5 * step) + fp16 + 1e-6;
            for (int j = 0; j < 32; j++)
            {
                double err = Math.Abs(xb[j] - y[b * 32 + j]);
                Assert.True(err <= bound, $"{type} block {b} element {j}: |{xb[j]} - {y[b * 32 + j]}| = {err} > {bound}");
                sumSq += err * err;
                sumStepSq += step * step;
            }
        }
        // Uniform rounding error has variance step²/12; allow the clamped element and fp16 effects some slack.
        double rel = Math.Sqrt(sumSq / sumStepSq);
        Assert.InRange(rel, 0.2, 0.4);
    }

    [Theory]
    [InlineData(nameof(GgmlType.Q4_0))]
    [InlineData(nameof(GgmlType.Q5_1))]
    [InlineData(nameof(GgmlType.Q8_0))]
    [InlineData(nameof(GgmlType.BF16))]
    public void ParallelQuantizationEqualsBlockByBlock(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        // 9000 blocks: more than one parallel chunk, with a partial last chunk.
        var rng = new Rng(5);
        var x = new float[32 * 9000];
        rng.FillNormal(x, 0, 1);
        var whole = new byte[type.RowSize(x.Length)];
        GgmlBlocks.Quantize(type, x, whole, rowLength: 288);
        const int bs = 32;
        int ts = (int)type.RowSize(bs);
        var one = new byte[ts];
        for (int b = 0; b < x.Length / bs; b += 997)
        {
            GgmlBlocks.Quantize(type, x.AsSpan(b * bs, bs), one);
            Assert.Equal(one, whole.AsSpan(b * ts, ts).ToArray());
        }
        var back = new float[x.Length];
        GgmlBlocks.Dequantize(type, whole, back);
        var backOne = new float[bs];
        GgmlBlocks.Dequantize(type, whole.AsSpan((x.Length / bs - 1) * ts, ts), backOne);
        Assert.Equal(backOne, back.AsSpan(x.Length - bs, bs).ToArray());
    }

    /// <summary>q3_K searches up to 8 blocks in one call: 19 blocks at once (8 + 8 + 3) give each block the bytes it
    /// gets alone, also with all-zero groups and groups whose scale rounds to 0 against the block's largest (ggml keeps
    /// their search levels).</summary>
    [Fact]
    public void Q3_K_blocks_searched_together_equal_each_alone()
    {
        var rng = new Rng(21);
        var x = new float[256 * 19];
        rng.FillNormal(x, 0, 1);
        for (int g = 0; g < x.Length / 16; g++)
        {
            float scale = g % 7 == 0 ? 0f : MathF.Pow(10, g % 5 - 2); // groups 100× below the block's largest round to 0
            for (int i = 0; i < 16; i++) x[16 * g + i] *= scale;
        }
        var whole = new byte[GgmlType.Q3_K.RowSize(x.Length)];
        BlockQ3_K.Quantize(x, whole);
        var one = new byte[BlockQ3_K.Bytes];
        for (int b = 0; b < 19; b++)
        {
            BlockQ3_K.Quantize(x.AsSpan(256 * b, 256), one);
            Assert.Equal(one, whole.AsSpan(b * BlockQ3_K.Bytes, BlockQ3_K.Bytes).ToArray());
        }
    }

    [Fact]
    public void F32RoundTripIsExact()
    {
        var x = new[] { 1.5f, -0f, float.MaxValue, 1e-40f };
        var b = new byte[16];
        GgmlBlocks.Quantize(GgmlType.F32, x, b);
        Assert.Equal(BitConverter.GetBytes(1.5f), b[..4]);
        var y = new float[4];
        GgmlBlocks.Dequantize(GgmlType.F32, b, y);
        Assert.Equal(x, y);
    }
}
