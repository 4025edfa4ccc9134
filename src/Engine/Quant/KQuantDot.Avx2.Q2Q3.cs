using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX2 kernels of q2_K and q3_K (as ggml's AVX2 ggml_vec_dot_q2_K_q8_K / ggml_vec_dot_q3_K_q8_K): each of the
/// 8 shifts of the 64 2-bit bytes is a 32-value chunk of two 16-value sub-blocks.</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2KAvx2(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector256<float>.Zero;
        var m3 = Vector256.Create((byte)3);
        var m15 = Vector128.Create((byte)15);
        Vector256<byte> p0 = PairMask(0), p1 = PairMask(1), p2 = PairMask(2), p3 = PairMask(3);
        for (int b = 0; b < blocks; b++, w += BlockQ2_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ2_K.Bytes);
            var sc = Sse2.LoadVector128(w);
            var scales = Avx2.ConvertToVector256Int16(Sse2.And(sc, m15));
            var mins = Avx2.ConvertToVector256Int16(Sse2.And(Sse2.ShiftRightLogical(sc.AsUInt16(), 4).AsByte(), m15));
            var minSum = Avx2.MultiplyAddAdjacent(mins, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var sumi = Vector256<int>.Zero;

            var s = Avx2.Permute2x128(scales, scales, 0x00);
            var bits = Avx.LoadVector256(w + 16);
            sumi = ScaledDot(sumi, Avx2.And(bits, m3), q8, Pick(s, p0));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 2), m3), q8 + 32, Pick(s, p1));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 4), m3), q8 + 64, Pick(s, p2));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 6), m3), q8 + 96, Pick(s, p3));

            s = Avx2.Permute2x128(scales, scales, 0x11);
            bits = Avx.LoadVector256(w + 48);
            sumi = ScaledDot(sumi, Avx2.And(bits, m3), q8 + 128, Pick(s, p0));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 2), m3), q8 + 160, Pick(s, p1));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 4), m3), q8 + 192, Pick(s, p2));
            sumi = ScaledDot(sumi, Avx2.And(Shr(bits, 6), m3), q8 + 224, Pick(s, p3));

            float dx = Unsafe.ReadUnaligned<float>(x);
            var scale = HalfBits.Pair(w + 80) * Vector128.Create(dx);
            acc = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(scale), ToFloat(sumi), acc);
            acc = Fma.MultiplyAddNegated(Avx2.BroadcastScalarToVector256(Sse.Shuffle(scale, scale, 1)), ToFloat(minSum), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>q3_K: codes 0..7 = 2 low bits | hmask bit (4·half + shift) as bit 2; the format's q - 4 is taken off as
    /// 4·Σ sc·bsums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3KAvx2(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector256<float>.Zero;
        var m3 = Vector256.Create((byte)3);
        var m4 = Vector256.Create((byte)4);
        var bias = Vector128.Create((byte)32);
        Vector256<byte> p0 = PairMask(0), p1 = PairMask(1), p2 = PairMask(2), p3 = PairMask(3);
        for (int b = 0; b < blocks; b++, w += BlockQ3_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ3_K.Bytes);
            KQuantScales.Q3K(w + 96, out uint a0, out uint a1, out uint a2, out uint a3);
            var scales = Avx2.ConvertToVector256Int16(Sse2.Subtract(Vector128.Create(a0, a1, a2, a3).AsByte(), bias).AsSByte());
            var offset = Avx2.MultiplyAddAdjacent(scales, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var hm = Avx.LoadVector256(w);
            var sumi = Vector256<int>.Zero;

            var s = Avx2.Permute2x128(scales, scales, 0x00);
            var bits = Avx.LoadVector256(w + 32);
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(bits, m3), Avx2.And(Shl(hm, 2), m4)), q8, Pick(s, p0));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 2), m3), Avx2.And(Shl(hm, 1), m4)), q8 + 32, Pick(s, p1));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 4), m3), Avx2.And(hm, m4)), q8 + 64, Pick(s, p2));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 6), m3), Avx2.And(Shr(hm, 1), m4)), q8 + 96, Pick(s, p3));

            s = Avx2.Permute2x128(scales, scales, 0x11);
            bits = Avx.LoadVector256(w + 64);
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(bits, m3), Avx2.And(Shr(hm, 2), m4)), q8 + 128, Pick(s, p0));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 2), m3), Avx2.And(Shr(hm, 3), m4)), q8 + 160, Pick(s, p1));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 4), m3), Avx2.And(Shr(hm, 4), m4)), q8 + 192, Pick(s, p2));
            sumi = ScaledDot(sumi, Avx2.Or(Avx2.And(Shr(bits, 6), m3), Avx2.And(Shr(hm, 5), m4)), q8 + 224, Pick(s, p3));

            sumi = Avx2.Subtract(sumi, Avx2.ShiftLeftLogical(offset, 2));
            acc = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(HalfBits.One(w + 108) * Vector128.CreateScalar(Unsafe.ReadUnaligned<float>(x))), ToFloat(sumi), acc);
        }
        return Vector256.Sum(acc);
    }
}
