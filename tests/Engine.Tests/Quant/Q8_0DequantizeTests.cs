using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>The vector q8_0 decode (BlockQ8_0.Dequantize: GGUF weights and the KV cache's attention), against block_q8_0 read from its layout here
/// (little-endian fp16 d at byte 0, int8 qs at 2..33; value = qs·d in fp32) on arbitrary bytes: every code from -128
/// to 127, and scales from fp16 subnormals to its largest finite value.</summary>
public class Q8_0DequantizeTests
{
    [Fact]
    public void Vector_decode_equals_the_layout_bit_for_bit()
    {
        var rng = new Rng(5);
        const int blocks = 64;
        var bytes = new byte[blocks * 34];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)rng.NextInt(256);
        ushort[] scales = [0x0001, 0x03FF, 0x3C00, 0x7BFF, 0xBC00, 0x0000];
        for (int b = 0; b < scales.Length; b++) BitConverter.TryWriteBytes(bytes.AsSpan(b * 34), scales[b]);
        for (int b = 0; b < blocks; b++) // no inf/NaN scales: 0·inf would be NaN either way, but NaN payloads may differ
            if ((BitConverter.ToUInt16(bytes, b * 34) & 0x7C00) == 0x7C00) bytes[b * 34 + 1] &= 0xBB;
        bytes[2] = 0x80; bytes[3] = 0x7F;
        var expected = new float[blocks * 32];
        for (int b = 0; b < blocks; b++)
        {
            float d = (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes, b * 34));
            for (int j = 0; j < 32; j++) expected[b * 32 + j] = (sbyte)bytes[b * 34 + 2 + j] * d;
        }
        var got = new float[blocks * 32];
        BlockQ8_0.Dequantize(bytes, got);
        Assert.Equal(expected, got);
        Assert.Equal(-128 * (float)BitConverter.UInt16BitsToHalf(0x0001), got[0]);
    }
}
