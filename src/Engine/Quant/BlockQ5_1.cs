using System.Buffers.Binary;

namespace Engine.Quant;

/// <summary>ggml block_q5_1 = { fp16 d; fp16 m; uint8 qh[4]; uint8 qs[16] } as quantize_row_q5_1_ref writes it:
/// d = (max-min)/31, m = min, q = (uint8)((x-min)·(1/d) + 0.5) with no clamp (as in ggml); bit layout as q5_0.</summary>
internal static class BlockQ5_1
{
    public const int Bytes = 24;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        int nb = x.Length / GgmlTypes.QK;
        for (int i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            var yb = y.Slice(i * Bytes, Bytes);
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < xb.Length; j++)
            {
                float v = xb[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 31f;
            float id = d != 0f ? 1f / d : 0f;
            BlockHalf.Write(yb, 0, d);
            BlockHalf.Write(yb, 2, min);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = (byte)(int)((xb[j] - min) * id + 0.5f);
                int q1 = (byte)(int)((xb[j + 16] - min) * id + 0.5f);
                yb[8 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 & 0x10) >> 4) << j;
                qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(yb[4..], qh);
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
            float m = BlockHalf.Read(yb, 2);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(yb[4..]);
            for (int j = 0; j < 16; j++)
            {
                byte b = yb[8 + j];
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                xb[j] = ((b & 0x0F) | h0) * d + m;
                xb[j + 16] = ((b >> 4) | h1) * d + m;
            }
        }
    }
}
