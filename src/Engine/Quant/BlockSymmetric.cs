namespace Engine.Quant;

/// <summary>q4_0 { fp16 d; uint8 qs[16] } and q5_0 { fp16 d; uint8 qh[4]; uint8 qs[16] }, as quantize_row_q4_0_ref and
/// quantize_row_q5_0_ref write them. With h = 2^(bits-1) (8 or 16): max = the value of largest magnitude (the first
/// one on ties), d = max/-h in fp32, id = d ? 1/d : 0, q = min(2h-1, (int)(x·id + h + 0.5)), fp16(d) stored;
/// dequantized as (q - h)·d.</summary>
internal static class BlockSymmetric
{
    public static int Bytes(int bits) => 2 + BlockBits.PackedBytes(bits);

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        int h = 1 << (bits - 1), top = 2 * h - 1, bytes = Bytes(bits);
        float offset = h + 0.5f;
        Span<int> q = stackalloc int[GgmlTypes.QK];
        for (int i = 0; i < x.Length / GgmlTypes.QK; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            var yb = y.Slice(i * bytes, bytes);
            float amax = 0f, max = 0f;
            foreach (float v in xb)
            {
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -h;
            float id = d != 0f ? 1f / d : 0f;
            BlockBits.WriteHalf(yb, 0, d);
            for (int j = 0; j < GgmlTypes.QK; j++) q[j] = Math.Min(top, (int)(xb[j] * id + offset));
            BlockBits.Pack(q, yb[2..], bits);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x, int bits)
    {
        int h = 1 << (bits - 1), bytes = Bytes(bits);
        Span<int> q = stackalloc int[GgmlTypes.QK];
        for (int i = 0; i < x.Length / GgmlTypes.QK; i++)
        {
            var yb = y.Slice(i * bytes, bytes);
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            float d = BlockBits.ReadHalf(yb, 0);
            BlockBits.Unpack(yb[2..], q, bits);
            for (int j = 0; j < GgmlTypes.QK; j++) xb[j] = (q[j] - h) * d;
        }
    }
}
