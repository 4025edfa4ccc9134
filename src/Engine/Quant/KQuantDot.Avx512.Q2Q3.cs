using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX-512 kernels of q2_K and q3_K: the 64-value chunk t of half h is the 32 bytes of half h shifted by 4t
/// (low 256 bits) and 4t + 2 (high); q3_K's high bit of value 128h + 32s + l is bit 4h + s of hmask[l].</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2KAvx512(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector512<float>.Zero;
        var accMin = Vector256<float>.Zero;
        var m3 = Vector512.Create((byte)3);
        var m15 = Vector128.Create((byte)15);
        Vector512<ushort> c0 = Counts(0, 2), c1 = Counts(4, 6);
        Vector512<short> i0 = Groups16(0), i1 = Groups16(4), i2 = Groups16(8), i3 = Groups16(12);
        for (int b = 0; b < blocks; b++, w += BlockQ2_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ2_K.Bytes);
            var sc = Sse2.LoadVector128(w);
            var scales = Avx2.ConvertToVector256Int16(Sse2.And(sc, m15)).ToVector512Unsafe();
            var mins = Avx2.ConvertToVector256Int16(Sse2.And(Sse2.ShiftRightLogical(sc.AsUInt16(), 4).AsByte(), m15));
            var minSum = Avx2.MultiplyAddAdjacent(mins, Bsums(x));
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var sumi = Vector512<int>.Zero;
            var bits = Both(w + 16);
            sumi = ScaledDot(sumi, Avx512F.And(Shr(bits, c0), m3), q8, Spread(scales, i0));
            sumi = ScaledDot(sumi, Avx512F.And(Shr(bits, c1), m3), q8 + 64, Spread(scales, i1));
            bits = Both(w + 48);
            sumi = ScaledDot(sumi, Avx512F.And(Shr(bits, c0), m3), q8 + 128, Spread(scales, i2));
            sumi = ScaledDot(sumi, Avx512F.And(Shr(bits, c1), m3), q8 + 192, Spread(scales, i3));

            float dx = Unsafe.ReadUnaligned<float>(x);
            var scale = HalfBits.Pair(w + 80) * Vector128.Create(dx);
            acc = Avx512F.FusedMultiplyAdd(Avx512F.BroadcastScalarToVector512(scale), ToFloat(sumi), acc);
            accMin = Fma.MultiplyAdd(Avx2.BroadcastScalarToVector256(Sse.Shuffle(scale, scale, 1)), ToFloat(minSum), accMin);
        }
        return Vector512.Sum(acc) - Vector256.Sum(accMin);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3KAvx512(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector512<float>.Zero;
        var m3 = Vector512.Create((byte)3);
        var m4 = Vector512.Create((byte)4);
        var bias = Vector128.Create((byte)32);
        Vector512<ushort> c0 = Counts(0, 2), c1 = Counts(4, 6), up = Counts(2, 1);
        Vector512<short> i0 = Groups16(0), i1 = Groups16(4), i2 = Groups16(8), i3 = Groups16(12);
        for (int b = 0; b < blocks; b++, w += BlockQ3_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ3_K.Bytes);
            KQuantScales.Q3K(w + 96, out uint a0, out uint a1, out uint a2, out uint a3);
            var scales256 = Avx2.ConvertToVector256Int16(Sse2.Subtract(Vector128.Create(a0, a1, a2, a3).AsByte(), bias).AsSByte());
            var offset = Avx2.MultiplyAddAdjacent(scales256, Bsums(x));
            var scales = scales256.ToVector512Unsafe();
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var hm = Both(w);
            var sumi = Vector512<int>.Zero;
            var bits = Both(w + 32);
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Shr(bits, c0), m3), Avx512F.And(Shl(hm, up), m4)), q8, Spread(scales, i0));
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Shr(bits, c1), m3), Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hm.AsUInt16(), 2).AsByte(), up), m4)), q8 + 64, Spread(scales, i1));
            bits = Both(w + 64);
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Shr(bits, c0), m3), Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hm.AsUInt16(), 4).AsByte(), up), m4)), q8 + 128, Spread(scales, i2));
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Shr(bits, c1), m3), Avx512F.And(Shl(Avx512BW.ShiftRightLogical(hm.AsUInt16(), 6).AsByte(), up), m4)), q8 + 192, Spread(scales, i3));

            var total = Avx512F.Subtract(sumi, Avx2.ShiftLeftLogical(offset, 2).ToVector512());
            acc = Avx512F.FusedMultiplyAdd(Avx512F.BroadcastScalarToVector512(HalfBits.One(w + 108) * Vector128.CreateScalar(Unsafe.ReadUnaligned<float>(x))), ToFloat(total), acc);
        }
        return Vector512.Sum(acc);
    }
}
