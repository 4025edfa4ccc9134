using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>AVX-512 kernel of q6_K: per 128 values, the 64 ql bytes are the low nibbles of values 0..63 and the high
/// nibbles of 64..127 as they lie; the 2-bit high parts of qh are shifted right by 0 or 4 for the chunk and then left
/// by 4 (low 256 bits) or 2 (high) into bits 4-5.</summary>
internal static unsafe partial class KQuantDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6KAvx512(byte* w, byte* x, int blocks, nint ahead)
    {
        var acc = Vector512<float>.Zero;
        var m15 = Vector512.Create((byte)15);
        var m48 = Vector512.Create((byte)0x30);
        var up = Counts(4, 2);
        Vector512<short> i0 = Groups16(0), i1 = Groups16(4), i2 = Groups16(8), i3 = Groups16(12);
        for (int b = 0; b < blocks; b++, w += BlockQ6_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            Prefetch(w + ahead, BlockQ6_K.Bytes);
            var scales256 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + 192)));
            var offset = Avx2.MultiplyAddAdjacent(scales256, Bsums(x));
            var scales = scales256.ToVector512Unsafe();
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            var sumi = Vector512<int>.Zero;

            var ql = Avx512BW.LoadVector512(w);
            var qh = Both(w + 128);
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(ql, m15), Avx512F.And(Shl(qh, up), m48)), q8, Spread(scales, i0));
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Avx512BW.ShiftRightLogical(ql.AsUInt16(), 4).AsByte(), m15),
                Avx512F.And(Shl(Avx512BW.ShiftRightLogical(qh.AsUInt16(), 4).AsByte(), up), m48)), q8 + 64, Spread(scales, i1));
            ql = Avx512BW.LoadVector512(w + 64);
            qh = Both(w + 160);
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(ql, m15), Avx512F.And(Shl(qh, up), m48)), q8 + 128, Spread(scales, i2));
            sumi = ScaledDot(sumi, Avx512F.Or(Avx512F.And(Avx512BW.ShiftRightLogical(ql.AsUInt16(), 4).AsByte(), m15),
                Avx512F.And(Shl(Avx512BW.ShiftRightLogical(qh.AsUInt16(), 4).AsByte(), up), m48)), q8 + 192, Spread(scales, i3));

            var total = Avx512F.Subtract(sumi, Avx2.ShiftLeftLogical(offset, 5).ToVector512());
            acc = Avx512F.FusedMultiplyAdd(Avx512F.BroadcastScalarToVector512(HalfBits.One(w + 208) * Vector128.CreateScalar(Unsafe.ReadUnaligned<float>(x))), ToFloat(total), acc);
        }
        return Vector512.Sum(acc);
    }
}
