using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

public class Nf4WeightTests
{
    private static float[] RandomWeight(int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++)
            w[i] = HalfConversions.BF16ToFloat(HalfConversions.FloatToBF16((float)rng.NextNormal() * 0.02f));
        return w;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Quantize_matches_the_flat_quantizer_and_its_scales(bool doubleQuant)
    {
        var w = RandomWeight(48, 200, 41); // 9600 elements = 150 blocks
        var q = Nf4Weight.Quantize(w, 48, 200, doubleQuant);
        var flat = Nf4Quantizer.Quantize(w);
        Assert.Equal(flat.Packed, q.Packed);
        Assert.Equal(doubleQuant, q.IsDoubleQuantized);
        Assert.Equal(150, q.BlockCount);
        if (doubleQuant)
        {
            var (codes, nested, offset) = Nf4DoubleQuant.Quantize(flat.Absmax);
            Assert.Equal(codes, q.Nested!.Codes);
            Assert.Equal(nested, q.Nested.Absmax);
            Assert.Equal(offset, q.Nested.Offset);
            Assert.Equal(DynamicQuantMap.Signed.ToArray(), q.Nested.CodeMap);
            Assert.Null(q.Absmax);
        }
        else
        {
            Assert.Equal(flat.Absmax, q.Absmax);
            Assert.Null(q.Nested);
        }
    }

    [Fact]
    public void Dequantize_uses_the_double_quantized_scales()
    {
        var w = RandomWeight(16, 128, 42);
        var q = Nf4Weight.Quantize(w, 16, 128);
        var scales = new float[q.BlockCount];
        q.GetBlockAbsmax(0, scales);
        var back = new float[w.Length];
        q.Dequantize(back);
        for (int i = 0; i < w.Length; i++)
        {
            int code = (i & 1) == 0 ? q.Packed[i / 2] >> 4 : q.Packed[i / 2] & 0xF;
            Assert.Equal(Nf4.CodeValues[code] * scales[i / 64], back[i]);
        }
        // Error bound: the NF4 rounding of the true scale plus the scale's own double-quantization error.
        var flat = Nf4Quantizer.Quantize(w);
        for (int i = 0; i < w.Length; i++)
        {
            float a = flat.Absmax[i / 64];
            double bound = a * Nf4.MaxCodeGap / 2 * (1 + 1e-6) + Math.Abs(a - scales[i / 64]) + 1e-9;
            Assert.True(Math.Abs(w[i] - back[i]) <= bound, $"element {i}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Dequantize_rows_equals_the_slice_of_the_whole(bool doubleQuant)
    {
        // 45 columns: blocks of 64 straddle rows and rows start on odd elements.
        const int rows = 300, cols = 45;
        var q = Nf4Weight.Quantize(RandomWeight(rows, cols, 43), rows, cols, doubleQuant);
        var full = new float[rows * cols];
        q.Dequantize(full);
        var fullBf16 = new ushort[rows * cols];
        q.DequantizeBf16(fullBf16);
        foreach (var (r0, n) in new[] { (0, 1), (1, 1), (3, 7), (17, 200), (299, 1), (0, 300), (5, 0) })
        {
            var part = new float[n * cols];
            q.DequantizeRows(r0, n, part);
            Assert.Equal(full.AsSpan(r0 * cols, n * cols).ToArray(), part);
            var partBf16 = new ushort[n * cols];
            q.DequantizeRowsBf16(r0, n, partBf16);
            Assert.Equal(fullBf16.AsSpan(r0 * cols, n * cols).ToArray(), partBf16);
        }
        for (int i = 0; i < full.Length; i++) Assert.Equal(HalfConversions.FloatToBF16(full[i]), fullBf16[i]);
        Assert.Throws<ArgumentOutOfRangeException>(() => q.DequantizeRows(299, 2, new float[2 * cols]));
        Assert.Throws<ArgumentException>(() => q.DequantizeRows(0, 2, new float[cols]));
    }

    [Fact]
    public void Byte_size_counts_codes_and_scales()
    {
        // 4096 x 11008 in blocks of 64: 704,512 blocks, 2,752 nested blocks.
        long n = 4096L * 11008;
        long blocks = n / 64;
        long dq = n / 2 + blocks + 4 * ((blocks + 255) / 256) + 4;
        long plain = n / 2 + 4 * blocks;
        var small = Nf4Weight.Quantize(RandomWeight(64, 64, 44), 64, 64);
        Assert.Equal(2048 + 64 + 4 + 4, small.ByteSize);
        var smallPlain = Nf4Weight.Quantize(RandomWeight(64, 64, 44), 64, 64, doubleQuant: false);
        Assert.Equal(2048 + 4 * 64, smallPlain.ByteSize);
        // 4.127 vs 4.5 bits per weight, as in the QLoRA paper.
        Assert.Equal(4.127, dq * 8.0 / n, 3);
        Assert.Equal(4.5, plain * 8.0 / n, 3);
    }

    [Fact]
    public void Bf16_input_gives_the_same_weight()
    {
        var w = RandomWeight(8, 96, 45);
        var bits = w.Select(HalfConversions.FloatToBF16).ToArray();
        var a = Nf4Weight.Quantize(w, 8, 96);
        var b = Nf4Weight.QuantizeBf16(bits, 8, 96);
        Assert.Equal(a.Packed, b.Packed);
        Assert.Equal(a.Nested!.Codes, b.Nested!.Codes);
        Assert.Equal(a.Nested.Absmax, b.Nested.Absmax);
        Assert.Equal(a.Nested.Offset, b.Nested.Offset);
    }

    [Fact]
    public void Constructor_rejects_inconsistent_parts()
    {
        var q = Nf4Weight.Quantize(RandomWeight(4, 64, 46), 4, 64, doubleQuant: false);
        Assert.Throws<ArgumentException>(() => new Nf4Weight(4, 64, 64, new byte[127], q.Absmax, null));
        Assert.Throws<ArgumentException>(() => new Nf4Weight(4, 64, 64, q.Packed, new float[3], null));
        Assert.Throws<ArgumentException>(() => new Nf4Weight(4, 64, 64, q.Packed, null, null));
        Assert.Throws<ArgumentException>(() => new Nf4Weight(4, 64, 64, q.Packed, q.Absmax, null, "int8"));
        var nested = new Nf4NestedAbsmax(new byte[4], new float[2], 0f, new float[256]);
        Assert.Throws<ArgumentException>(() => new Nf4Weight(4, 64, 64, q.Packed, null, nested));
        Assert.Throws<ArgumentException>(() => Nf4Weight.Quantize(new float[10], 3, 3));
    }
}
