using System.Numerics;
using System.Text;
using Engine.Formats;

namespace Engine.Tests.Formats;

public class CrcTests
{
    [Fact]
    public void Crc32C_CheckValue() => Assert.Equal(0xE3069283u, Crc32.Castagnoli.Compute("123456789"u8));

    [Fact]
    public void Crc32Ieee_CheckValue() => Assert.Equal(0xCBF43926u, Crc32.Ieee.Compute("123456789"u8));

    [Fact]
    public void Crc32Ieee_OfIendChunkType_IsThePngConstant() => Assert.Equal(0xAE426082u, Crc32.Ieee.Compute("IEND"u8));

    [Fact]
    public void Crc32C_EmptyInputIsZero() => Assert.Equal(0u, Crc32.Castagnoli.Compute([]));

    [Fact]
    public void Crc32C_MatchesBclImplementation_AndAppendContinues()
    {
        var data = new byte[1000];
        new Random(11).NextBytes(data);
        // BitOperations.Crc32C is the raw CRC step (hardware where available) without the initial/final inversion.
        uint reference = ~0u;
        foreach (byte b in data) reference = BitOperations.Crc32C(reference, b);
        reference = ~reference;
        Assert.Equal(reference, Crc32.Castagnoli.Compute(data));
        Assert.Equal(reference, Crc32.Castagnoli.Append(Crc32.Castagnoli.Compute(data.AsSpan(0, 377)), data.AsSpan(377)));
    }

    [Fact]
    public void MaskCrc_MatchesTensorFlowFormula()
    {
        // ((0xF207BE3A >> 15) | (0xF207BE3A << 17)) + 0xA282EAD8 mod 2^32, worked by hand:
        // >>15 = 0x0001E40F, <<17 = 0x7C740000, or = 0x7C75E40F, + 0xA282EAD8 = 0x1EF8CEE7 (carry dropped).
        Assert.Equal(0x1EF8CEE7u, TfRecord.MaskCrc(0xF207BE3Au));
    }
}
