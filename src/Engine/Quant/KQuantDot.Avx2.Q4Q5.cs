using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX2 kernels of q4_K and q5_K (as ggml's AVX2 ggml_vec_dot_q4_K_q8_K / ggml_vec_dot_q5_K_q8_K): each 32 bytes
/// of nibbles are two 32-value sub-blocks (low nibbles, then high); the mins meet the bsums of their two 16-value
/// halves in one vpmaddwd per super-block.</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4KAvx2(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KAvx2(w, x, blocks, ahead, five: false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5KAvx2(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KAvx2(w, x, blocks, ahead, five: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q4Or5KAvx2(byte* w, byte* x, int blocks, nint ahead, bool five)
    {
        var acc = Vector256<float>.Zero;
        var m15 = Vector256.Create((byte)15);
        var m16 = Vector256.Create((byte)16);
        Vector256<byte> g0 = SplatMask(0), g1 = SplatMask(1), g2 = SplatMask(2), g3 = SplatMask(3);
        Vector256<byte> g4 = SplatMask(4), g5 = SplatMask(5), g6 = SplatMask(6), g7 = SplatMask(7);
        int bytes = five ? 176 : 144;
        for (int b = 0; b < blocks; b++, w += bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, bytes);
            KQuantScales.Q4K(w + 4, out uint sc0, out uint sc1, out uint mn0, out uint mn1);
            var packed = Vector128.Create(sc0, sc1, mn0, mn1).AsByte();
            var s8 = Sse41.ConvertToVector128Int16(packed);
            var scales = Vector256.Create(s8, s8);
            var mins = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(packed, packed)); // m0 m0 m1 m1 … m7 m7
            var minSum = Avx2.MultiplyAddAdjacent(mins, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            byte* qs = w + (five ? 48 : 16);
            var sumi = Vector256<int>.Zero;
            var hb = five ? Avx.LoadVector256(w + 16) : default;

            var bits = Avx.LoadVector256(qs);
            var lo = Avx2.And(bits, m15);
            var hi = Avx2.And(Shr(bits, 4), m15);
            if (five)
            {
                lo = Avx2.Or(lo, Avx2.And(Shl(hb, 4), m16));
                hi = Avx2.Or(hi, Avx2.And(Shl(hb, 3), m16));
            }
            sumi = ScaledDot(sumi, lo, q8, Pick(scales, g0));
            sumi = ScaledDot(sumi, hi, q8 + 32, Pick(scales, g1));

            bits = Avx.LoadVector256(qs + 32);
            lo = Avx2.And(bits, m15);
            hi = Avx2.And(Shr(bits, 4), m15);
            if (five)
            {
                lo = Avx2.Or(lo, Avx2.And(Shl(hb, 2), m16));
                hi = Avx2.Or(hi, Avx2.And(Shl(hb, 1), m16));
            }
            sumi = ScaledDot(sumi, lo, q8 + 64, Pick(scales, g2));
            sumi = ScaledDot(sumi, hi, q8 + 96, Pick(scales, g3));

            bits = Avx.LoadVector256(qs + 64);
            lo = Avx2.And(bits, m15);
            hi = Avx2.And(Shr(bits, 4), m15);
            if (five)
            {
                lo = Avx2.Or(lo, Avx2.And(hb, m16));
                hi = Avx2.Or(hi, Avx2.And(Shr(hb, 1), m16));
            }
            sumi = ScaledDot(sumi, lo, q8 + 128, Pick(scales, g4));
            sumi = ScaledDot(sumi, hi, q8 + 160, Pick(scales, g5));

            bits = Avx.LoadVector256(qs + 96);
            lo = Avx2.And(bits, m15);
            hi = Avx2.And(Shr(bits, 4), m15);
            if (five)
            {
                lo = Avx2.Or(lo, Avx2.And(Shr(hb, 2), m16));
                hi = Avx2.Or(hi, Avx2.And(Shr(hb, 3), m16));
            }
            sumi = ScaledDot(sumi, lo, q8 + 192, Pick(scales, g6));
            sumi = ScaledDot(sumi, hi, q8 + 224, Pick(scales, g7));

            float dx = Unsafe.ReadUnaligned<float>(x);
            var scale = HalfBits.Pair(w) * Vector128.Create(dx);
            acc = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(scale), ToFloat(sumi), acc);
            acc = Fma.MultiplyAddNegated(Avx2.BroadcastScalarToVector256(Sse.Shuffle(scale, scale, 1)), ToFloat(minSum), acc);
        }
        return Vector256.Sum(acc);
    }
}
