using System.Buffers.Binary;

namespace Engine.Quant;

/// <summary>The pieces the ggml 4/5-bit block layouts share: fp16 fields, and the packing of 32 small integers as
/// low nibbles (qs[j] = q[j] | q[j+16] &lt;&lt; 4) plus, for 5-bit types, a little-endian uint32 qh whose bit j is
/// bit 4 of q[j].</summary>
internal static class BlockBits
{
    public static void WriteHalf(Span<byte> block, int offset, float value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(block[offset..], BitConverter.HalfToUInt16Bits((Half)value));

    public static float ReadHalf(ReadOnlySpan<byte> block, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block[offset..]));

    /// <summary>Bytes of packed values: 16 nibble bytes, preceded by 4 qh bytes for 5-bit values.</summary>
    public static int PackedBytes(int bits) => bits == 5 ? 20 : 16;

    public static void Pack(ReadOnlySpan<int> q, Span<byte> dst, int bits)
    {
        var qs = bits == 5 ? dst.Slice(4, 16) : dst[..16];
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int q0 = q[j], q1 = q[j + 16];
            qs[j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint)((q0 & 0x10) >> 4) << j;
            qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
        }
        if (bits == 5) BinaryPrimitives.WriteUInt32LittleEndian(dst, qh);
    }

    public static void Unpack(ReadOnlySpan<byte> src, Span<int> q, int bits)
    {
        var qs = bits == 5 ? src.Slice(4, 16) : src[..16];
        uint qh = bits == 5 ? BinaryPrimitives.ReadUInt32LittleEndian(src) : 0;
        for (int j = 0; j < 16; j++)
        {
            q[j] = (qs[j] & 0x0F) | ((int)((qh >> j) << 4) & 0x10);
            q[j + 16] = (qs[j] >> 4) | ((int)(qh >> (j + 12)) & 0x10);
        }
    }
}
