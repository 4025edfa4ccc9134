using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX2 kernel of q6_K (as ggml's AVX2 ggml_vec_dot_q6_K_q8_K): per 128 values, 64 bytes of nibbles and 32 of
/// 2-bit high parts give four 32-value chunks of codes 0..63; the format's q - 32 is taken off as 32·Σ sc·bsums.</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6KAvx2(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector256<float>.Zero;
        var m15 = Vector256.Create((byte)15);
        var m48 = Vector256.Create((byte)0x30);
        Vector256<byte> p0 = PairMask(0), p1 = PairMask(1), p2 = PairMask(2), p3 = PairMask(3);
        for (int b = 0; b < blocks; b++, w += BlockQ6_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ6_K.Bytes);
            var scales = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + 192)));
            var offset = Avx2.MultiplyAddAdjacent(scales, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var sumi = Vector256<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                var s = h == 0 ? Avx2.Permute2x128(scales, scales, 0x00) : Avx2.Permute2x128(scales, scales, 0x11);
                var ql0 = Avx.LoadVector256(w + 64 * h);
                var ql1 = Avx.LoadVector256(w + 64 * h + 32);
                var qh = Avx.LoadVector256(w + 128 + 32 * h);
                sbyte* y = q8 + 128 * h;
                sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(ql0, m15), Avx2.And(Shl(qh, 4), m48)), y, Pick(s, p0));
                sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(ql1, m15), Avx2.And(Shl(qh, 2), m48)), y + 32, Pick(s, p1));
                sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(ql0, 4), m15), Avx2.And(qh, m48)), y + 64, Pick(s, p2));
                sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(ql1, 4), m15), Avx2.And(Shr(qh, 2), m48)), y + 96, Pick(s, p3));
            }
            sumi = Avx2.Subtract(sumi, Avx2.ShiftLeftLogical(offset, 5));
            acc = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(HalfBits.One(w + 208) * Vector128.CreateScalar(Unsafe.ReadUnaligned<float>(x))), ToFloat(sumi), acc);
        }
        return Vector256.Sum(acc);
    }
}
