namespace Engine.Quant;

/// <summary>q4_1 { fp16 d; fp16 m; uint8 qs[16] } and q5_1 { fp16 d; fp16 m; uint8 qh[4]; uint8 qs[16] }, as
/// quantize_row_q4_1_ref and quantize_row_q5_1_ref write them: d = (max-min)/(2^bits - 1) in fp32, m = min,
/// id = d ? 1/d : 0, q = (int)((x-min)·id + 0.5), clamped to 15 for q4_1 only (ggml's q5_1 does not clamp),
/// fp16(d) and fp16(min) stored; dequantized as q·d + m.</summary>
internal static class BlockAffine
{
    public static int Bytes(int bits) => 4 + BlockBits.PackedBytes(bits);

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int bytes = Bytes(bits);
        float levels = (1 << bits) - 1;
        Span<int> q = stackalloc int[GgmlTypes.QK];
        for (int i = 0; i < x.Length / GgmlTypes.QK; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            var yb = y.Slice(i * bytes, bytes);
            float min = float.MaxValue, max = -float.MaxValue;
            foreach (float v in xb)
            {
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / levels;
            float id = d != 0f ? 1f / d : 0f;
            BlockBits.WriteHalf(yb, 0, d);
            BlockBits.WriteHalf(yb, 2, min);
            for (int j = 0; j < GgmlTypes.QK; j++)
            {
                int v = (int)((xb[j] - min) * id + 0.5f);
                q[j] = bits == 4 ? Math.Min(15, v) : (byte)v;
            }
            BlockBits.Pack(q, yb[4..], bits);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x, int bits)
    {
        int bytes = Bytes(bits);
        Span<int> q = stackalloc int[GgmlTypes.QK];
        for (int i = 0; i < x.Length / GgmlTypes.QK; i++)
        {
            var yb = y.Slice(i * bytes, bytes);
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            float d = BlockBits.ReadHalf(yb, 0);
            float m = BlockBits.ReadHalf(yb, 2);
            BlockBits.Unpack(yb[4..], q, bits);
            for (int j = 0; j < GgmlTypes.QK; j++) xb[j] = q[j] * d + m;
        }
    }
}
