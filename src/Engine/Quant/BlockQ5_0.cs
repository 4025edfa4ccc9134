using System.Buffers.Binary;

namespace Engine.Quant;

/// <summary>ggml block_q5_0 = { fp16 d; uint8 qh[4]; uint8 qs[16] } as quantize_row_q5_0_ref writes it: d = max/-16,
/// q = min(31, (int)(x·(1/d) + 16.5)); low 4 bits packed as in q4_0, bit 4 of element j in bit j of qh read as a
/// little-endian uint32.</summary>
internal static class BlockQ5_0
{
    public const int Bytes = 22;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        int nb = x.Length / GgmlTypes.QK;
        for (int i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            var yb = y.Slice(i * Bytes, Bytes);
            float amax = 0f, max = 0f;
            for (int j = 0; j < xb.Length; j++)
            {
                float a = MathF.Abs(xb[j]);
                if (amax < a) { amax = a; max = xb[j]; }
            }
            float d = max / -16f;
            float id = d != 0f ? 1f / d : 0f;
            BlockHalf.Write(yb, 0, d);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(31, (int)(xb[j] * id + 16.5f));
                int q1 = Math.Min(31, (int)(xb[j + 16] * id + 16.5f));
                yb[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 & 0x10) >> 4) << j;
                qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(yb[2..], qh);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x)
    {
        int nb = x.Length / GgmlTypes.QK;
        for (int i = 0; i < nb; i++)
        {
            var yb = y.Slice(i * Bytes, Bytes);
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            float d = BlockHalf.Read(yb, 0);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(yb[2..]);
            for (int j = 0; j < 16; j++)
            {
                byte b = yb[6 + j];
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                xb[j] = (((b & 0x0F) | h0) - 16) * d;
                xb[j + 16] = (((b >> 4) | h1) - 16) * d;
            }
        }
    }
}
