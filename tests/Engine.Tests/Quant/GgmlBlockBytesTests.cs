using Engine.Quant;

namespace Engine.Tests.Quant;

/// <summary>Blocks whose bytes were derived by hand from ggml's reference quantizers (quantize_row_*_ref). Values are
/// chosen so every scale is exact in fp32 (except where a test is about the fp16 scale), and the comments show each
/// step: d, 1/d, q = f(x), then the nibble/qh packing.</summary>
public class GgmlBlockBytesTests
{
    internal static byte[] Hex(string s) => Convert.FromHexString(s.Replace(" ", ""));

    private static byte[] Quantize(GgmlType type, float[] x)
    {
        var y = new byte[type.RowSize(x.Length)];
        GgmlBlocks.Quantize(type, x, y);
        return y;
    }

    private static string Repeat(string hexByte, int n) => string.Concat(Enumerable.Repeat(hexByte, n));

    [Fact]
    public void Q8_0_MaxNegativeAndTiesAwayFromZero()
    {
        var x = new float[32];
        x[0] = -127f;  // amax 127 -> d = 1, id = 1, fp16(1) = 3C00
        x[1] = 2.5f;   // roundf -> 3
        x[2] = -2.5f;  // -> -3 (FD)
        x[3] = 0.5f;   // -> 1
        x[4] = -0.5f;  // -> -1 (FF)
        x[5] = 1.49f;  // -> 1
        x[6] = 126.6f; // -> 127 (7F)
        x[31] = 100.4f; // -> 100 (64)
        var expected = Hex("00 3C" + "81 03 FD 01 FF 01 7F" + Repeat("00", 24) + "64");
        Assert.Equal(expected, Quantize(GgmlType.Q8_0, x));
    }

    [Fact]
    public void Q8_0_QuantizesWithFp32ScaleAndStoresFp16Scale()
    {
        // amax = 1: d = 1/127 = 0.0078740157 (fp32), id = 1/d = 127 exactly in fp32.
        // Stored fp16(d) = 0x2008 = 0.00787353515625.
        // x = 0.99603: x·id = 126.4958 -> 126. Dividing by the fp16 scale would give 126.5035 -> 127 instead.
        var x = new float[32];
        x[0] = 1f;        // 127 (7F)
        x[1] = 0.5f;      // 63.5 -> 64 (40): half away from zero
        x[2] = -0.5f;     // -64 (C0)
        x[3] = 0.99603f;  // 126 (7E)
        x[4] = -1f;       // -127 (81)
        var expected = Hex("08 20" + "7F 40 C0 7E 81" + Repeat("00", 27));
        Assert.Equal(expected, Quantize(GgmlType.Q8_0, x));
    }

    [Fact]
    public void ZeroBlocksMatchGgml()
    {
        var zeros = new float[32];
        // q8_0: d = 0/127 = +0; q = 0.
        Assert.Equal(Hex("00 00" + Repeat("00", 32)), Quantize(GgmlType.Q8_0, zeros));
        // q4_0: max stays +0, d = +0/-8 = -0 -> fp16 8000; id = 0; q = (int)(0 + 8.5) = 8 in both nibbles.
        Assert.Equal(Hex("00 80" + Repeat("88", 16)), Quantize(GgmlType.Q4_0, zeros));
        // q4_1: min = max = 0, d = 0, m = 0; q = (int)(0 + 0.5) = 0.
        Assert.Equal(Hex("00 00 00 00" + Repeat("00", 16)), Quantize(GgmlType.Q4_1, zeros));
        // q5_0: d = -0; q = (int)(0 + 16.5) = 16: low nibbles 0, every qh bit set.
        Assert.Equal(Hex("00 80" + "FF FF FF FF" + Repeat("00", 16)), Quantize(GgmlType.Q5_0, zeros));
        // q5_1: d = 0, m = 0, q = 0.
        Assert.Equal(Hex("00 00 00 00" + "00 00 00 00" + Repeat("00", 16)), Quantize(GgmlType.Q5_1, zeros));
    }

    [Fact]
    public void Q4_0_MaxNegativeBlock()
    {
        // max = -8 -> d = -8/-8 = 1, id = 1; q = min(15, (int)(x + 8.5)). qs[j] = q[j] | q[j+16] << 4.
        var x = new float[32];
        x[0] = -8f; x[16] = 7f;       // 0, 15              -> F0
        x[1] = -0.5f; x[17] = 0.5f;   // (int)8.0 = 8, 9    -> 98
        x[2] = 7.9f; x[18] = -7.6f;   // 16.4 -> 16 -> 15, 0.9 -> 0 -> 0F
        x[3] = 1.5f; x[19] = -1.5f;   // 10, 7              -> 7A
        x[4] = 2.49f; x[20] = 2.5f;   // 10.99 -> 10, 11    -> BA
        // the rest are 0 -> 8 | 8 << 4 = 88
        var expected = Hex("00 3C" + "F0 98 0F 7A BA" + Repeat("88", 11));
        Assert.Equal(expected, Quantize(GgmlType.Q4_0, x));
    }

    [Fact]
    public void Q4_0_MaxPositiveBlockKeepsFirstValueOnMagnitudeTies()
    {
        // The first value of largest magnitude is +4 (a later -4 does not replace it: ggml compares with <).
        // d = 4/-8 = -0.5 (fp16 B800), id = -2; q = min(15, (int)(x·(-2) + 8.5)).
        var x = new float[32];
        x[0] = 4f; x[16] = -4f;       // 0.5 -> 0, 16.5 -> 16 -> 15 -> F0
        x[1] = 1f; x[17] = -1f;       // 6.5 -> 6, 10.5 -> 10        -> A6
        x[2] = 0.25f; x[18] = -0.25f; // 8.0 -> 8, 9.0 -> 9          -> 98
        x[5] = -4f;                   // 16.5 -> 15, x[21] = 0 -> 8  -> 8F
        var expected = Hex("00 B8" + "F0 A6 98 88 88 8F" + Repeat("88", 10));
        Assert.Equal(expected, Quantize(GgmlType.Q4_0, x));
    }

    [Fact]
    public void Q4_1_Block()
    {
        // min = -1, max = 14 -> d = 15/15 = 1 (3C00), m = -1 (BC00), id = 1; q = min(15, (int)(x + 1 + 0.5)).
        var x = Enumerable.Repeat(0f, 32).ToArray(); // 0 -> (int)1.5 = 1
        x[0] = -1f; x[16] = 14f;      // 0, 15             -> F0
        x[1] = 0.5f; x[17] = 0.49f;   // (int)2.0 = 2, (int)1.99 = 1 -> 12
        x[2] = 13.9f; x[18] = 2f;     // (int)15.4 = 15, (int)3.5 = 3 -> 3F
        var expected = Hex("00 3C 00 BC" + "F0 12 3F" + Repeat("11", 13));
        Assert.Equal(expected, Quantize(GgmlType.Q4_1, x));
    }

    [Fact]
    public void Q5_0_Block()
    {
        // max = -16 -> d = 1, id = 1; q = min(31, (int)(x + 16.5)); low nibbles packed as q4_0, bit 4 of element j in
        // bit j of qh (little-endian uint32).
        var x = new float[32];        // 0 -> 16: low 0, high bit 1
        x[0] = -16f; x[16] = 15f;     // 0, 31              -> qs F0; bit0 = 0, bit16 = 1
        x[1] = 15.9f; x[17] = -0.5f;  // 32 -> 31, 16       -> qs 0F; bit1 = 1, bit17 = 1
        x[2] = -1f; x[18] = 0.5f;     // 15, 17             -> qs 1F; bit2 = 0, bit18 = 1
        x[3] = 3f; x[19] = -13.5f;    // 19, 3              -> qs 33; bit3 = 1, bit19 = 0
        // qh low half: bits 1, 3, 4..15 = FFFA; high half: bits 16, 17, 18, 20..31 = FFF7 -> FFF7FFFA -> FA FF F7 FF.
        var expected = Hex("00 3C" + "FA FF F7 FF" + "F0 0F 1F 33" + Repeat("00", 12));
        Assert.Equal(expected, Quantize(GgmlType.Q5_0, x));
    }

    [Fact]
    public void Q5_1_Block()
    {
        // min = 0, max = 31 -> d = 1, m = 0; q = (uint8)(x + 0.5).
        var x = Enumerable.Repeat(1f, 32).ToArray(); // 1.5 -> 1: low 1, high 0
        x[0] = 0f; x[16] = 31f;       // 0, 31              -> qs F0; bit16 = 1
        x[1] = 16.5f; x[17] = 15.49f; // 17, 15             -> qs F1; bit1 = 1
        // qh = bit1 | bit16 = 0x00010002 -> 02 00 01 00
        var expected = Hex("00 3C 00 00" + "02 00 01 00" + "F0 F1" + Repeat("11", 14));
        Assert.Equal(expected, Quantize(GgmlType.Q5_1, x));
    }

    [Fact]
    public void DequantizeHandBlocks()
    {
        // q4_0 with d = -0.5: (q - 8)·d. Byte F0 = element 0 -> q 0 -> 4, element 16 -> q 15 -> -3.5.
        var q40 = Hex("00 B8" + "F0" + Repeat("88", 15));
        var y = new float[32];
        GgmlBlocks.Dequantize(GgmlType.Q4_0, q40, y);
        Assert.Equal(4f, y[0]);
        Assert.Equal(-3.5f, y[16]);
        Assert.Equal(0f, y[1]);

        // q5_1 with d = 1, m = 0.5: q·d + m. Element 16 = low nibble F | bit16 -> 31 -> 31.5.
        var q51 = Hex("00 3C 00 38" + "02 00 01 00" + "F0 F1" + Repeat("11", 14));
        GgmlBlocks.Dequantize(GgmlType.Q5_1, q51, y);
        Assert.Equal(0.5f, y[0]);
        Assert.Equal(31.5f, y[16]);
        Assert.Equal(17.5f, y[1]);   // low 1 | bit1 -> 17
        Assert.Equal(15.5f, y[17]);  // high nibble F, bit17 = 0 -> 15
        Assert.Equal(1.5f, y[2]);

        // q5_0 zero block: d = -0, every value (16 - 16)·d = 0.
        GgmlBlocks.Dequantize(GgmlType.Q5_0, Hex("00 80" + "FF FF FF FF" + Repeat("00", 16)), y);
        Assert.All(y, v => Assert.Equal(0f, v));

        // q8_0: int8 · d with d = fp16 2008 = 0.00787353515625.
        GgmlBlocks.Dequantize(GgmlType.Q8_0, Hex("08 20" + "7F 81" + Repeat("00", 30)), y);
        Assert.Equal(127 * 0.00787353515625f, y[0]);
        Assert.Equal(-127 * 0.00787353515625f, y[1]);
    }
}
