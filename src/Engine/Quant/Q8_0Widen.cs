using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>ggml q8_0 blocks (fp16 d, 32 int8 qs; 34 bytes) decoded to fp32 as qs·d with 256-bit vectors where the
/// CPU has them: the q8_0 KV cache's read in attention, once per head row per call. Each value is the fp32 product of
/// an exactly converted int8 and fp32(d), so the result is <see cref="Q8Activations.DequantizeQ8_0"/>'s bit for bit.</summary>
internal static class Q8_0Widen
{
    /// <summary>Decodes <c>dst.Length/32</c> blocks of <paramref name="blocks"/> into <paramref name="dst"/>.</summary>
    public static void ToFloats(ReadOnlySpan<byte> blocks, Span<float> dst)
    {
        int nb = dst.Length / GgmlTypes.QK;
        if (dst.Length % GgmlTypes.QK != 0 || blocks.Length < nb * Q8Activations.Q8_0BlockBytes)
            throw new ArgumentException($"{dst.Length} values need whole q8_0 blocks of {GgmlTypes.QK}, {nb * Q8Activations.Q8_0BlockBytes} bytes; got {blocks.Length}");
        for (int b = 0; b < nb; b++)
        {
            var block = blocks.Slice(b * Q8Activations.Q8_0BlockBytes, Q8Activations.Q8_0BlockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
            var qs = MemoryMarshal.Cast<byte, sbyte>(block[2..]);
            var y = dst.Slice(b * GgmlTypes.QK, GgmlTypes.QK);
            if (Vector256.IsHardwareAccelerated)
            {
                var scale = Vector256.Create(d);
                var (lo, hi) = Vector256.Widen(Vector256.Create(qs));
                var (q0, q1) = Vector256.Widen(lo);
                var (q2, q3) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(q0) * scale).CopyTo(y);
                (Vector256.ConvertToSingle(q1) * scale).CopyTo(y[8..]);
                (Vector256.ConvertToSingle(q2) * scale).CopyTo(y[16..]);
                (Vector256.ConvertToSingle(q3) * scale).CopyTo(y[24..]);
            }
            else
            {
                for (int j = 0; j < GgmlTypes.QK; j++) y[j] = qs[j] * d;
            }
        }
    }
}
