namespace Engine.Quant;

/// <summary>ggml block_q4_0 = { fp16 d; uint8 qs[16] } as quantize_row_q4_0_ref writes it: max = the value of largest
/// magnitude (first one on ties), d = max/-8 in fp32, q = min(15, (int)(x·(1/d) + 8.5)); qs[j] holds element j in the
/// low nibble and element j+16 in the high nibble.</summary>
internal static class BlockQ4_0
{
    public const int Bytes = 18;

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
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            BlockHalf.Write(yb, 0, d);
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(15, (int)(xb[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(xb[j + 16] * id + 8.5f));
                yb[2 + j] = (byte)(q0 | (q1 << 4));
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
            for (int j = 0; j < 16; j++)
            {
                byte b = yb[2 + j];
                xb[j] = ((b & 0x0F) - 8) * d;
                xb[j + 16] = ((b >> 4) - 8) * d;
            }
        }
    }
}
