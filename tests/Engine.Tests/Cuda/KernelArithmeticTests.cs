using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>The kernels project copies some host arithmetic (it may not reference Engine); these prove the copies give
/// the same bits, which is what makes GPU conversions and dropout masks identical to the CPU's.</summary>
public sealed class KernelArithmeticTests
{
    [Fact]
    public void Bf16_to_float_matches_host_for_every_bit_pattern()
    {
        for (int h = 0; h <= ushort.MaxValue; h++)
            Assert.Equal(BitConverter.SingleToInt32Bits(HalfConversions.BF16ToFloat((ushort)h)),
                         BitConverter.SingleToInt32Bits(FloatBits.BF16ToFloat((ushort)h)));
    }

    [Fact]
    public void Float_to_bf16_matches_host_rounding()
    {
        foreach (uint u in Patterns())
        {
            float f = BitConverter.UInt32BitsToSingle(u);
            if (HalfConversions.FloatToBF16(f) != FloatBits.FloatToBF16(f)) Assert.Fail($"bits 0x{u:X8}");
        }
        // Ties round to even: 1 + 2^-8 lies halfway between bf16 1.0 and 1.0078125; 1 + 3·2^-8 rounds up.
        Assert.Equal(0x3F80, FloatBits.FloatToBF16(1f + 1f / 256));
        Assert.Equal(0x3F82, FloatBits.FloatToBF16(1f + 3f / 256));
        Assert.Equal(0x7FC0, FloatBits.FloatToBF16(float.NaN) & 0x7FC0);
    }

    [Fact]
    public void F16_to_float_matches_system_half_for_every_bit_pattern()
    {
        for (int h = 0; h <= ushort.MaxValue; h++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(FloatBits.F16ToFloat((ushort)h))) Assert.Fail($"half 0x{h:X4}");
        }
    }

    [Fact]
    public void Float_to_f16_matches_system_half()
    {
        foreach (uint u in Patterns())
        {
            float f = BitConverter.UInt32BitsToSingle(u);
            ushort expected = BitConverter.HalfToUInt16Bits((Half)f);
            if (expected != FloatBits.FloatToF16(f)) Assert.Fail($"bits 0x{u:X8}: expected 0x{expected:X4}, got 0x{FloatBits.FloatToF16(f):X4}");
        }
        Assert.Equal(0x7BFF, FloatBits.FloatToF16(65504f));
        Assert.Equal(0x7C00, FloatBits.FloatToF16(65520f)); // the tie above the largest half rounds to infinity
        Assert.Equal(0x0001, FloatBits.FloatToF16(6e-8f));   // nearest subnormal
    }

    [Fact]
    public void Dropout_hash_matches_rng()
    {
        var rng = new Rng(9);
        for (int i = 0; i < 20000; i++)
        {
            ulong seed = rng.NextU64();
            long index = i < 1000 ? i : (long)(rng.NextU64() >> 20);
            Assert.Equal(BitConverter.SingleToInt32Bits(Rng.HashUniform(seed, index)), BitConverter.SingleToInt32Bits(DropoutHash.Uniform(seed, index)));
        }
    }

    /// <summary>Every 1021st float bit pattern (all exponents, many mantissas) plus each pattern next to a bf16 or fp16
    /// rounding boundary in the normal and subnormal fp16 range.</summary>
    private static IEnumerable<uint> Patterns()
    {
        for (ulong u = 0; u <= uint.MaxValue; u += 1021) yield return (uint)u;
        for (uint e = 0; e < 256; e++)
            for (uint low = 0; low < 8; low++)
                foreach (uint sign in new[] { 0u, 0x80000000u })
                {
                    uint baseBits = sign | (e << 23) | (low << 13);
                    foreach (uint d in new uint[] { 0, 1, 0xFFF, 0x1000, 0x1001, 0x7FFF, 0x8000, 0x8001, 0x1FFF })
                        yield return baseBits + d;
                }
    }
}
