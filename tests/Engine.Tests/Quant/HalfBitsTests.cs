using System.Runtime.Intrinsics;
using Engine.Quant;

namespace Engine.Tests.Quant;

/// <summary>The block kernels' fp16 decoders (<see cref="HalfBits"/>) against .NET's Half conversion, bit for bit on
/// all 65536 values: subnormals (the range q6_K's d falls in), infinities and NaN payloads (quieted) included, and with
/// junk in the upper 16 bits of each lane, as a gather or a 32-bit load reads them.</summary>
public class HalfBitsTests
{
    private static uint Expected(int h) => BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));

    [Fact]
    public unsafe void Scalar_decoders_equal_System_Half_on_every_value()
    {
        for (int h = 0; h < 65536; h++)
        {
            ushort bits = (ushort)h;
            Assert.Equal(Expected(h), BitConverter.SingleToUInt32Bits(HalfBits.ToSingle(bits)));
            Assert.Equal(Expected(h), BitConverter.SingleToUInt32Bits(HalfBits.At((byte*)&bits)));
        }
    }

    [Fact]
    public void Vector_decoders_equal_System_Half_on_every_value()
    {
        var lanes = new uint[16];
        for (int h0 = 0; h0 < 65536; h0 += 16)
        {
            for (int k = 0; k < 16; k++) lanes[k] = (uint)(h0 + k) | (uint)((h0 + k) * 40503) << 16;
            var wide = HalfBits.ToSingles(Vector512.Create(lanes));
            var lo = HalfBits.ToSingles(Vector256.Create(lanes.AsSpan(0, 8)));
            var hi = HalfBits.ToSingles(Vector256.Create(lanes.AsSpan(8, 8)));
            for (int k = 0; k < 16; k++)
            {
                uint want = Expected(h0 + k);
                Assert.Equal(want, BitConverter.SingleToUInt32Bits(wide[k]));
                Assert.Equal(want, BitConverter.SingleToUInt32Bits(k < 8 ? lo[k] : hi[k - 8]));
            }
        }
    }

    /// <summary>The sixteen-lane decode's rebase-only path (every lane normal) and its any-lane path (one lane zero,
    /// subnormal, infinite or NaN among normal ones) both decode exactly; the loop above rarely meets an all-normal
    /// group of sixteen that mixes signs and exponents like a cache row.</summary>
    [Fact]
    public void Sixteen_lanes_decode_exactly_with_and_without_an_unusual_lane()
    {
        ushort[] normal = [0x3C00, 0xBC00, 0x0400, 0x7BFF, 0x8400, 0xFBFF, 0x1234, 0x9234, 0x3555, 0x2001, 0x4000, 0xC000, 0x0401, 0x7000, 0x5A5A, 0xDA5A];
        foreach (ushort odd in new ushort[] { 0x3C01, 0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x7C01, 0x7E00 })
        {
            var lanes = new uint[16];
            for (int k = 0; k < 16; k++) lanes[k] = normal[k];
            lanes[7] = odd;
            var got = HalfBits.ToSingles(Vector512.Create(lanes));
            for (int k = 0; k < 16; k++) Assert.Equal(Expected((ushort)lanes[k]), BitConverter.SingleToUInt32Bits(got[k]));
        }
    }
}
