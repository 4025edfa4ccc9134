namespace Engine.Quant;

/// <summary>ggml block_q4_1 = { fp16 d; fp16 m; uint8 qs[16] } as quantize_row_q4_1_ref writes it: d = (max-min)/15 in
/// fp32, m = min, q = min(15, (int)((x-min)·(1/d) + 0.5)); nibble order as in q4_0.</summary>
internal static class BlockQ4_1
{
    public const int Bytes = 20;

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
            float d = (max - min) / 15f;
            float id = d != 0f ? 1f / d : 0f;
            BlockHalf.Write(yb, 0, d);
            BlockHalf.Write(yb, 2, min);
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(15, (int)((xb[j] - min) * id + 0.5f));
                int q1 = Math.Min(15, (int)((xb[j + 16] - min) * id + 0.5f));
                yb[4 + j] = (byte)(q0 | (q1 << 4));
            }
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
            for (int j = 0; j < 16; j++)
            {
                byte b = yb[4 + j];
                xb[j] = (b & 0x0F) * d + m;
                xb[j + 16] = (b >> 4) * d + m;
            }
        }
    }
}
