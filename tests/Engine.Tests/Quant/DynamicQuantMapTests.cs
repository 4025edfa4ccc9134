using Engine.Quant;

namespace Engine.Tests.Quant;

public class DynamicQuantMapTests
{
    /// <summary>fp32 bits of code[128..255] of bitsandbytes' <c>create_dynamic_map(signed=True)</c>, printed by
    /// torch 2.11 (CPU) on x86-64 running bnb's formula; code[0..126] mirror them and code[127] is 0.</summary>
    private static readonly uint[] TorchPositiveBits =
    [
        0x3513A3B7, 0x365A1A94, 0x370205FF, 0x37B24206, 0x38378034, 0x388AEFB3, 0x38BA1F4B, 0x3923D70B,
        0x398CE705, 0x39C7E283, 0x3A016F01, 0x3A1EECC1, 0x3A3C6A80, 0x3A59E83E, 0x3A7765FF, 0x3AA7EF9D,
        0x3AF1A9FC, 0x3B1DB22D, 0x3B428F5C, 0x3B676C8A, 0x3B8624DD, 0x3B989374, 0x3BAB020D, 0x3BBD70A4,
        0x3BCFDF3B, 0x3BE24DD3, 0x3BF4BC6A, 0x3C039581, 0x3C0CCCCD, 0x3C160418, 0x3C1F3B64, 0x3C3AE148,
        0x3C68F5C3, 0x3C8B851F, 0x3CA28F5D, 0x3CB9999A, 0x3CD0A3D7, 0x3CE7AE15, 0x3CFEB852, 0x3D0AE148,
        0x3D166667, 0x3D21EB85, 0x3D2D70A3, 0x3D38F5C3, 0x3D447AE1, 0x3D500000, 0x3D5B851F, 0x3D670A3D,
        0x3D728F5D, 0x3D7E147B, 0x3D84CCCD, 0x3D8A8F5D, 0x3D9051EB, 0x3D96147B, 0x3D9BD70A, 0x3DA1999A,
        0x3DA75C2A, 0x3DAD1EB8, 0x3DB2E148, 0x3DB8A3D7, 0x3DBE6667, 0x3DC428F7, 0x3DC9EB85, 0x3DDB3334,
        0x3DF80000, 0x3E0A6666, 0x3E18CCCD, 0x3E273333, 0x3E35999A, 0x3E440000, 0x3E526666, 0x3E60CCCD,
        0x3E6F3333, 0x3E7D9999, 0x3E860000, 0x3E8D3334, 0x3E946666, 0x3E9B999A, 0x3EA2CCCC, 0x3EAA0000,
        0x3EB13333, 0x3EB86666, 0x3EBF999A, 0x3EC6CCCC, 0x3ECE0000, 0x3ED53333, 0x3EDC6666, 0x3EE3999A,
        0x3EEACCCC, 0x3EF20000, 0x3EF93332, 0x3F003333, 0x3F03CCCC, 0x3F076666, 0x3F0B0000, 0x3F0E999A,
        0x3F123334, 0x3F15CCCD, 0x3F196666, 0x3F1D0000, 0x3F20999A, 0x3F243334, 0x3F27CCCD, 0x3F2B6666,
        0x3F2F0000, 0x3F32999A, 0x3F363334, 0x3F39CCCD, 0x3F3D6666, 0x3F410000, 0x3F44999A, 0x3F483333,
        0x3F4BCCCD, 0x3F4F6666, 0x3F530000, 0x3F56999A, 0x3F5A3333, 0x3F5DCCCD, 0x3F616666, 0x3F650000,
        0x3F68999A, 0x3F6C3333, 0x3F6FCCCD, 0x3F736666, 0x3F770000, 0x3F7A999A, 0x3F7E3333, 0x3F800000,
    ];

    [Fact]
    public void Signed_map_equals_torch_bit_for_bit()
    {
        var map = DynamicQuantMap.Signed;
        Assert.Equal(256, map.Length);
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(map[127]));
        for (int k = 0; k < 128; k++)
            Assert.True(TorchPositiveBits[k] == BitConverter.SingleToUInt32Bits(map[128 + k]), $"code[{128 + k}]");
        for (int k = 0; k < 127; k++)
            Assert.True((TorchPositiveBits[k] | 0x80000000u) == BitConverter.SingleToUInt32Bits(map[126 - k]), $"code[{126 - k}]");
    }

    [Fact]
    public void First_middle_and_last_values_follow_the_formula()
    {
        var map = DynamicQuantMap.Signed;
        // Exponent i = 0: linspace(0.1, 1, 2) = [0.1, 1]; one mean 0.55, scaled by fp32(1e-6).
        Assert.Equal((float)1e-6 * ((0.1f + 1f) / 2f), map[128]);
        Assert.Equal(5.5e-7f, map[128], 1e-12f);
        // Exponent i = 6 (scale 1): linspace(0.1, 1, 65); the last bin mean is (b[63] + b[64]) / 2, b[63] = 1 - step
        // (torch's second half counts down from the end), b[64] = 1.
        float step = (1f - 0.1f) / 64;
        Assert.Equal(((1f - step) + 1f) / 2f, map[254]);
        Assert.Equal(-map[254], map[0]);
        Assert.Equal(-0.99296874f, map[0]);
        Assert.Equal(1f, map[255]);
        // Below 0.1 sit 1 + 2 + 4 + 8 + 16 + 32 = 63 positive values (exponents 0..5), so the 1.0-scaled bins start
        // at index 128 + 63 = 191 with (b[0] + b[1]) / 2, and bin 16 (index 207) is (b[16] + b[17]) / 2, where torch's
        // AVX2 kernel computes b[k] = fma(step, k, 0.1) in the first half.
        Assert.Equal((0.1f + MathF.FusedMultiplyAdd(step, 1, 0.1f)) / 2f, map[191]);
        Assert.Equal((MathF.FusedMultiplyAdd(step, 16, 0.1f) + MathF.FusedMultiplyAdd(step, 17, 0.1f)) / 2f, map[207]);
        Assert.Equal(0.33203125f, map[207]);
        Assert.True(map[190] < 0.1f && map[191] > 0.1f);
    }

    [Fact]
    public void Torch_linspace_counts_the_second_half_down_from_the_end()
    {
        var b = DynamicQuantMap.TorchLinspace(0.1f, 1f, 65);
        float step = 0.9f / 64;
        Assert.Equal(0.1f, b[0]);
        Assert.Equal(MathF.FusedMultiplyAdd(step, 31, 0.1f), b[31]);
        Assert.Equal(MathF.FusedMultiplyAdd(-step, 32, 1f), b[32]);
        // Where fusing matters: linspace(0.1, 1, 9)[3] is 0.4375 fused, 0.43749997 with a rounded product.
        Assert.Equal(0.4375f, DynamicQuantMap.TorchLinspace(0.1f, 1f, 9)[3]);
        Assert.Equal(0.43749997f, 0.1f + (0.9f / 8) * 3);
        Assert.Equal(1f, b[64]);
        Assert.Equal(new[] { 0.1f, 1f }, DynamicQuantMap.TorchLinspace(0.1f, 1f, 2));
        Assert.Equal(new[] { 3f }, DynamicQuantMap.TorchLinspace(3f, 7f, 1));
    }

    [Fact]
    public void Create_checks_its_parameters_and_is_sorted()
    {
        var unsigned = DynamicQuantMap.Create(signed: false);
        Assert.Equal(256, unsigned.Length);
        Assert.Equal(0f, unsigned[0]);
        Assert.Equal(1f, unsigned[255]);
        for (int i = 1; i < 256; i++) Assert.True(unsigned[i] >= unsigned[i - 1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicQuantMap.Create(maxExponentBits: 8));
        // Unsigned with 5 exponent bits: 8+16+32+64+128 bins, 3 extra, 0 and 1 make 253 values, which bnb's assert rejects.
        Assert.Throws<ArgumentException>(() => DynamicQuantMap.Create(signed: false, maxExponentBits: 5));
        var fourBit = DynamicQuantMap.Create(signed: true, maxExponentBits: 3, totalBits: 4);
        Assert.Equal(256 - 16 + 1, fourBit.Count(v => v == 0f)); // 7 + 7 values, 0 and 1, then zero padding
    }
}
