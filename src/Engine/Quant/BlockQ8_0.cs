using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>ggml block_q8_0 = { fp16 d; int8 qs[32] }, quantized exactly like quantize_row_q8_0_ref:
/// d = amax/127 in fp32, q = roundf(x·(1/d)) (half away from zero), fp16(d) stored.</summary>
internal static class BlockQ8_0
{
    public const int Bytes = 34;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> y)
    {
        int nb = x.Length / GgmlTypes.QK;
        for (int i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            var yb = y.Slice(i * Bytes, Bytes);
            float amax = 0f;
            for (int j = 0; j < xb.Length; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            BlockBits.WriteHalf(yb, 0, d);
            for (int j = 0; j < GgmlTypes.QK; j++)
                yb[2 + j] = (byte)(sbyte)(int)MathF.Round(xb[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>x = qs·d per block, with 256-bit vectors where the CPU has them (each value the fp32 product of an exactly
    /// converted int8 and fp32(d), so both paths give the same bits): GGUF weights dequantized for the SGEMM tiles, and
    /// the q8_0 KV cache's rows in attention.</summary>
    public static void Dequantize(ReadOnlySpan<byte> y, Span<float> x)
    {
        int nb = x.Length / GgmlTypes.QK;
        for (int i = 0; i < nb; i++)
        {
            var yb = y.Slice(i * Bytes, Bytes);
            var xb = x.Slice(i * GgmlTypes.QK, GgmlTypes.QK);
            float d = BlockBits.ReadHalf(yb, 0);
            var qs = MemoryMarshal.Cast<byte, sbyte>(yb[2..]);
            if (Vector256.IsHardwareAccelerated)
            {
                var scale = Vector256.Create(d);
                var (lo, hi) = Vector256.Widen(Vector256.Create(qs));
                var (q0, q1) = Vector256.Widen(lo);
                var (q2, q3) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(q0) * scale).CopyTo(xb);
                (Vector256.ConvertToSingle(q1) * scale).CopyTo(xb[8..]);
                (Vector256.ConvertToSingle(q2) * scale).CopyTo(xb[16..]);
                (Vector256.ConvertToSingle(q3) * scale).CopyTo(xb[24..]);
            }
            else
            {
                for (int j = 0; j < GgmlTypes.QK; j++) xb[j] = qs[j] * d;
            }
        }
    }
}
