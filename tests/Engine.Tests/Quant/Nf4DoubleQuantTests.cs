using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>The 8-bit blockwise quantizer (bnb dQuantize) and double quantization of NF4 scales.</summary>
public class Nf4DoubleQuantTests
{
    private static ReadOnlySpan<float> Map => DynamicQuantMap.Signed;

    [Fact]
    public void Every_code_value_maps_to_its_own_index()
    {
        for (int k = 0; k < 256; k++) Assert.Equal(k, BlockwiseQuant8.QuantizeValue(Map, Map[k]));
        Assert.Equal(127, BlockwiseQuant8.QuantizeValue(Map, -0f));
    }

    [Fact]
    public void Values_just_off_a_midpoint_go_to_the_nearer_code()
    {
        for (int k = 0; k < 255; k++)
        {
            float mid = (Map[k] + Map[k + 1]) * 0.5f;
            Assert.Equal(k, BlockwiseQuant8.QuantizeValue(Map, float.BitDecrement(mid)));
            Assert.Equal(k + 1, BlockwiseQuant8.QuantizeValue(Map, float.BitIncrement(mid)));
        }
    }

    [Fact]
    public void Out_of_range_and_nan()
    {
        Assert.Equal(0, BlockwiseQuant8.QuantizeValue(Map, -1f));   // below code[0] = -0.99297
        Assert.Equal(0, BlockwiseQuant8.QuantizeValue(Map, -5f));
        Assert.Equal(255, BlockwiseQuant8.QuantizeValue(Map, 1.5f));
        Assert.Equal(0, BlockwiseQuant8.QuantizeValue(Map, float.NaN)); // every comparison false: the search walks down
    }

    [Fact]
    public void Hand_made_absmax_vector()
    {
        // mean = 5 / 4 = 1.25; shifted = [-0.75, -0.25, 0.25, 0.75]; nested absmax 0.75; x = shifted / 0.75.
        // x = -1 -> 0 and 1 -> 255 (the ends); x = ±1/3 -> ±0.33203125, the 1.0-scale bin 16: index 128 + 63 + 16 = 207
        // and its mirror 126 - (207 - 128) = 47.
        float[] absmax = [0.5f, 1.0f, 1.5f, 2.0f];
        var (codes, nested, offset) = Nf4DoubleQuant.Quantize(absmax);
        Assert.Equal(1.25f, offset);
        Assert.Equal(new[] { 0.75f }, nested);
        Assert.Equal(new byte[] { 0, 47, 207, 255 }, codes);
        Assert.Equal(0.33203125f, Map[207]);
        Assert.Equal(-0.33203125f, Map[47]);

        var back = new float[4];
        Nf4DoubleQuant.DequantizeAbsmax(codes, nested, offset, Map, 256, 0, back);
        for (int i = 0; i < 4; i++) Assert.Equal(Map[codes[i]] * 0.75f + 1.25f, back[i]);
        Assert.Equal(0.50527346f, back[0]); // -0.99296874 * 0.75 + 1.25
        Assert.Equal(2f, back[3]);
    }

    [Fact]
    public void Blocks_of_256_each_get_their_own_nested_scale()
    {
        var values = new float[600];
        values[10] = -4f;
        values[300] = 0.5f;
        values[599] = -0.125f;
        var (codes, absmax) = BlockwiseQuant8.Quantize(values);
        Assert.Equal(new[] { 4f, 0.5f, 0.125f }, absmax);
        Assert.Equal(0, codes[10]);      // -1 -> code 0
        Assert.Equal(255, codes[300]);   // +1
        Assert.Equal(0, codes[599]);
        Assert.Equal(127, codes[0]);     // zero
        var back = new float[600];
        BlockwiseQuant8.Dequantize(codes, absmax, 256, back);
        Assert.Equal(Map[0] * 4f, back[10]);
        Assert.Equal(0.5f, back[300]);
        Assert.Equal(0f, back[1]);
    }

    [Fact]
    public void Mean_is_the_fp32_rounding_of_an_exact_sum_times_fp32_one_over_n()
    {
        // A running fp32 sum loses the two 1s next to 2^24; the mean must not.
        float[] v = [16777216f, 1f, 1f];
        Assert.Equal((float)(16777218.0) * (1f / 3f), Nf4DoubleQuant.Fp32Mean(v));
        Assert.Equal(0.3f, Nf4DoubleQuant.Fp32Mean(Enumerable.Repeat(0.3f, 4096).ToArray()));
        Assert.True(float.IsNaN(Nf4DoubleQuant.Fp32Mean([])));
    }

    [Fact]
    public void Double_quantized_scales_are_within_half_a_dynamic_code_gap()
    {
        var rng = new Rng(31);
        var absmax = new float[256 * 5 + 77];
        for (int i = 0; i < absmax.Length; i++) absmax[i] = 0.02f + 0.06f * rng.NextFloat();
        var (codes, nested, offset) = Nf4DoubleQuant.Quantize(absmax);
        Assert.Equal(6, nested.Length);
        float maxGap = 0;
        for (int k = 1; k < 256; k++) maxGap = Math.Max(maxGap, Map[k] - Map[k - 1]);
        var back = new float[absmax.Length];
        Nf4DoubleQuant.DequantizeAbsmax(codes, nested, offset, Map, 256, 0, back);
        for (int i = 0; i < absmax.Length; i++)
        {
            double bound = nested[i / 256] * maxGap / 2 * (1 + 1e-5) + 1e-7;
            Assert.True(Math.Abs(absmax[i] - back[i]) <= bound, $"block {i}: {absmax[i]} -> {back[i]}");
        }
        // A slice of the scales equals the same slice of the whole.
        var part = new float[100];
        Nf4DoubleQuant.DequantizeAbsmax(codes, nested, offset, Map, 256, 700, part);
        Assert.Equal(back.AsSpan(700, 100).ToArray(), part);
    }
}
