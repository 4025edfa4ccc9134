using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX-512 kernels of q4_K and q5_K: 64-value chunk p is the 32 nibble bytes of pair p, low nibbles in the low
/// 256 bits and high nibbles in the high; q5_K's bit 4 of sub-block g is bit g of qh, shifted right by 2p for the
/// chunk and then left by 4 (low half) or 3 (high half).</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4KAvx512(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KAvx512(w, x, blocks, ahead, five: false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5KAvx512(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KAvx512(w, x, blocks, ahead, five: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q4Or5KAvx512(byte* w, byte* x, int blocks, nint ahead, bool five)
    {
        var acc = Vector512<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var m15 = Vector512.Create((byte)15);
        var m16 = Vector512.Create((byte)16);
        Vector512<ushort> nibble = Counts(0, 4), up = Counts(4, 3);
        Vector512<short> i0 = Groups32(0), i1 = Groups32(2), i2 = Groups32(4), i3 = Groups32(6);
        int bytes = five ? 176 : 144;
        for (int b = 0; b < blocks; b++, w += bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, bytes);
            KQuantScales.Q4K(w + 4, out uint sc0, out uint sc1, out uint mn0, out uint mn1);
            var packed = Vector128.Create(sc0, sc1, mn0, mn1).AsByte();
            var scales = Sse41.ConvertToVector128Int16(packed).ToVector256Unsafe().ToVector512Unsafe();
            var mins = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(packed, packed)); // m0 m0 m1 m1 … m7 m7
            var minSum = Avx2.MultiplyAddAdjacent(mins, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            byte* qs = w + (five ? 48 : 16);
            var hb = five ? Both(w + 16) : default;
            var sumi = Vector512<int>.Zero;

            var q = Avx512F.And(Shr(Both(qs), nibble), m15);
            if (five) q = Avx512F.Or(q, Avx512F.And(Shl(hb, up), m16));
            sumi = ScaledDot(sumi, q, q8, Spread(scales, i0));
            q = Avx512F.And(Shr(Both(qs + 32), nibble), m15);
            if (five) q = Avx512F.Or(q, Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hb.AsUInt16(), 2).AsByte(), up), m16));
            sumi = ScaledDot(sumi, q, q8 + 64, Spread(scales, i1));
            q = Avx512F.And(Shr(Both(qs + 64), nibble), m15);
            if (five) q = Avx512F.Or(q, Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hb.AsUInt16(), 4).AsByte(), up), m16));
            sumi = ScaledDot(sumi, q, q8 + 128, Spread(scales, i2));
            q = Avx512F.And(Shr(Both(qs + 96), nibble), m15);
            if (five) q = Avx512F.Or(q, Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hb.AsUInt16(), 6).AsByte(), up), m16));
            sumi = ScaledDot(sumi, q, q8 + 192, Spread(scales, i3));

            var scale = HalfBits.Pair(w) * Vector128.Create(Unsafe.ReadUnaligned<float>(x));
            acc = Avx512F.FusedMultiplyAdd(Avx512F.BroadcastScalarToVector512(scale), ToFloat(sumi), acc);
            accMin = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(Sse.Shuffle(scale, scale, 1)), ToFloat(minSum), accMin);
        }
        return Vector512.Sum(acc) - Vector256.Sum(accMin);
    }
}
