using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

public class HalfRowsTests
{
    [Fact]
    public void F16RoundsToNearestEven()
    {
        float one = 1f, ulp = MathF.Pow(2, -10);
        var x = new[] { one + ulp / 2, one + 3 * ulp / 2, 65504f, 65520f, -2f, 5.9604645e-8f, 0.1f };
        var b = new byte[x.Length * 2];
        HalfRows.ToF16(x, b);
        // 1 + ulp/2 is a tie -> even (1.0 = 3C00); 1 + 1.5 ulp -> 1 + 2 ulp (3C02); 65504 is the max finite (7BFF);
        // 65520 is halfway to 65536 -> rounds to even, which is infinity (7C00); -2 = C000; 2^-24 is the smallest
        // subnormal (0001); 0.1 -> 2E66.
        Assert.Equal(GgmlBlockBytesTests.Hex("003C 023C FF7B 007C 00C0 0100 662E"), b);
        var back = new float[x.Length];
        HalfRows.FromF16(b, back);
        Assert.Equal(new[] { 1f, 1f + 2 * ulp, 65504f, float.PositiveInfinity, -2f, 5.9604645e-8f, 0.0999755859375f }, back);
    }

    [Fact]
    public void F16RowsEqualPerElementConversion()
    {
        var rng = new Rng(3);
        var x = new float[4096];
        for (int i = 0; i < x.Length; i++)
        {
            // random bit patterns across the fp16 range and beyond, skipping NaN payloads
            float v = BitConverter.Int32BitsToSingle((int)(rng.NextU64() & 0xFFFFFFFF));
            x[i] = float.IsNaN(v) ? 0f : v * 1e-30f * (i % 7 == 0 ? 1e30f : 1f);
        }
        var b = new byte[x.Length * 2];
        HalfRows.ToF16(x, b);
        for (int i = 0; i < x.Length; i++)
            Assert.Equal(HalfConversions.FloatToF16(x[i]), BitConverter.ToUInt16(b, i * 2));
    }

    [Fact]
    public void BF16RoundsToNearestEven()
    {
        float ulp = MathF.Pow(2, -7);
        var x = new[] { 1f + ulp / 2, 1f + 3 * ulp / 2, -3.140625f };
        var b = new byte[6];
        HalfRows.ToBF16(x, b);
        Assert.Equal(GgmlBlockBytesTests.Hex("803F 823F 49C0"), b);
        var back = new float[3];
        HalfRows.FromBF16(b, back);
        Assert.Equal(new[] { 1f, 1f + 2 * ulp, -3.140625f }, back);
    }
}
