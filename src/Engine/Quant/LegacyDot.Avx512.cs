using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The AVX-512 (F + BW) kernels: two blocks per 512-bit step for the 4/5-bit types, one q8_0 block widened to
/// int16. .NET 10 exposes no 512-bit VNNI, so the 4/5-bit codes c (0..31, unsigned) multiply with
/// <c>vpmaddubsw</c> (no saturation: |c·x + c'·x'| ≤ 31·128·2) and the offset of q4_0/q5_0 comes off in int16 as a second
/// <c>vpmaddubsw</c> of the offset against x (exact for any x, so no sign trick); <c>vpmaddwd</c> then gives int32 sums.
/// Lanes 0..7 of a step hold block b, lanes 8..15 block b+1, each scaled by its own fp32(d_w)·d_x; the scales (and mins)
/// of eight blocks are decoded together with the AVX2 gather (every AVX-512 CPU has AVX2 and FMA). An odd last 4/5-bit
/// block goes through the scalar block kernel. With AVX512-VBMI, q4_0 and q5_0 run the four-row kernels of
/// LegacyDot.Avx512Rows.cs instead.</summary>
internal static unsafe partial class LegacyDot
{
    private static void RunAvx512(GgmlType type, in Rows a)
    {
        switch (type)
        {
            case GgmlType.Q4_0 when Avx512Vbmi.IsSupported: Avx512Quad<QuadQ4_0>(a); break;
            case GgmlType.Q5_0 when Avx512Vbmi.IsSupported: Avx512Quad<QuadQ5_0>(a); break;
            case GgmlType.Q4_0: Run<Avx512Q4<Offset8>>(a); break;
            case GgmlType.Q4_1: Run<Avx512Q4<Affine>>(a); break;
            case GgmlType.Q5_0: Run<Avx512Q5<Offset16>>(a); break;
            case GgmlType.Q5_1: Run<Avx512Q5<Affine>>(a); break;
            default: Run<Avx512Q8_0>(a); break;
        }
    }

    /// <summary>How a 4/5-bit type's codes relate to its values: a constant offset subtracted (q4_0: 8, q5_0: 16; q8_0
    /// activations) or an unsigned code with a per-block min (q4_1, q5_1; q8_1 activations).</summary>
    private interface ICodes
    {
        static abstract bool HasMin { get; }
        static abstract byte Offset { get; }
    }

    private struct Offset8 : ICodes
    {
        public static bool HasMin => false;
        public static byte Offset => 8;
    }

    private struct Offset16 : ICodes
    {
        public static bool HasMin => false;
        public static byte Offset => 16;
    }

    private struct Affine : ICodes
    {
        public static bool HasMin => true;
        public static byte Offset => 0;
    }

    /// <summary>[lo, hi] as one vector (a single vinserti64x4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Join<T>(Vector256<T> lo, Vector256<T> hi) where T : struct =>
        Avx512F.InsertVector256(lo.AsByte().ToVector512Unsafe(), hi.AsByte(), 1).As<byte, T>();

    /// <summary>The 16 nibble bytes of two blocks (at <paramref name="qsA"/>, <paramref name="qsB"/>) as 64 codes:
    /// block A's low then high nibbles, then block B's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Nibbles512(byte* qsA, byte* qsB)
    {
        var v = Vector256.Create(Vector128.Load(qsA), Vector128.Load(qsB));
        var both = Join(v, Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte()); // A, B, A>>4, B>>4
        return Avx512F.Shuffle4x128(both.AsInt32(), both.AsInt32(), 0b11_01_10_00).AsByte() & Vector512.Create((byte)0x0F);
    }

    /// <summary>The qh words of two q5 blocks as 64 bytes (block A's 32 then block B's), 0xFF where the bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Bits512(byte* qhA, byte* qhB)
    {
        ulong qh = Unsafe.ReadUnaligned<uint>(qhA) | (ulong)Unsafe.ReadUnaligned<uint>(qhB) << 32;
        // 128-bit lane k holds codes 16k..16k+15 of the pair: bits of qh bytes 2k (first 8) and 2k+1.
        var index = Vector512.Create(0x0000000000000000UL, 0x0101010101010101UL, 0x0202020202020202UL, 0x0303030303030303UL,
                                     0x0404040404040404UL, 0x0505050505050505UL, 0x0606060606060606UL, 0x0707070707070707UL).AsByte();
        var spread = Avx512BW.Shuffle(Vector512.Create(qh).AsByte(), index);
        var bit = Vector512.Create(0x8040201008040201UL).AsByte();
        return Vector512.Equals(spread & bit, bit);
    }

    /// <summary>Bit 4 of the 64 codes of two q5 blocks: bit p of qh (block A's word, then block B's) as 0x10 in byte p.
    /// With AVX512-VBMI one <c>vpmultishiftqb</c> does it: each qword holds one block's qh twice, and byte p takes the 8
    /// bits from bit p - 4 (mod 64) up, so its bit 4 is qh bit p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> HighBits512(byte* qhA, byte* qhB)
    {
        if (!Avx512Vbmi.IsSupported) return Bits512(qhA, qhB) & Vector512.Create((byte)0x10);
        var qh = Join(Vector256.Create(Unsafe.ReadUnaligned<uint>(qhA)), Vector256.Create(Unsafe.ReadUnaligned<uint>(qhB))).AsUInt64();
        var from = Vector512.Create(0x030201003F3E3D3CUL, 0x0B0A090807060504UL, 0x131211100F0E0D0CUL, 0x1B1A191817161514UL,
                                    0x232221201F1E1D1CUL, 0x2B2A292827262524UL, 0x333231302F2E2D2CUL, 0x3B3A393837363534UL).AsByte();
        return Avx512Vbmi.MultiShift(from, qh) & Vector512.Create((byte)0x10);
    }

    /// <summary>Sixteen int32 sums of four adjacent (c - offset)·x products: c unsigned codes, x int8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> CodeDot<TCodes>(Vector512<byte> c, Vector512<sbyte> x) where TCodes : struct, ICodes
    {
        var p = Avx512BW.MultiplyAddAdjacent(c, x);
        if (TCodes.Offset != 0) p -= Avx512BW.MultiplyAddAdjacent(Vector512.Create(TCodes.Offset), x);
        return Avx512BW.MultiplyAddAdjacent(p, Vector512.Create((short)1));
    }

    /// <summary>scaleA in lanes 0..7, scaleB in lanes 8..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> PairScale(float scaleA, float scaleB) =>
        Avx512F.InsertVector256(Vector512.Create(scaleA), Vector256.Create(scaleB), 1);

    /// <summary>The sixteen int32 sums of two consecutive weight blocks with two activation blocks (lanes 0..7 the first).</summary>
    private interface IPair512
    {
        static abstract int WeightBytes { get; }
        static abstract bool HasMin { get; }
        static abstract GgmlType Type { get; }
        static abstract Vector512<int> Sums(byte* w, byte* x);
    }

    /// <summary>A row of a 4/5-bit type, two blocks per step, the scales of <see cref="Group"/> blocks decoded together;
    /// plus Σ m_w·s_x for the types with a min; an odd last block through the scalar kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Avx512Row<TPair>(byte* w, byte* x, float* dx, float* sx, int nb) where TPair : struct, IPair512
    {
        int wb = TPair.WeightBytes;
        int xb = TPair.HasMin ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        var acc = Vector512<float>.Zero;
        var mins = Vector256<float>.Zero;
        var offsets = GroupOffsets(wb);
        float* scale = stackalloc float[Group];
        int b = 0;
        for (; b + Group <= nb; b += Group)
        {
            (Halves8(w, offsets) * Vector256.Load(dx + b)).Store(scale);
            if (TPair.HasMin) mins = Fma.MultiplyAdd(Halves8(w + 2, offsets), Vector256.Load(sx + b), mins);
            for (int k = 0; k < Group; k += 2, w += 2 * wb, x += 2 * xb)
                acc = Avx512F.FusedMultiplyAdd(PairScale(scale[k], scale[k + 1]), Avx512F.ConvertToVector512Single(TPair.Sums(w, x)), acc);
        }
        float tail = 0f;
        for (; b + 2 <= nb; b += 2, w += 2 * wb, x += 2 * xb)
        {
            float dA = HalfBits.At(w) * dx[b], dB = HalfBits.At(w + wb) * dx[b + 1];
            acc = Avx512F.FusedMultiplyAdd(PairScale(dA, dB), Avx512F.ConvertToVector512Single(TPair.Sums(w, x)), acc);
            if (TPair.HasMin)
            {
                tail += HalfBits.At(w + 2) * sx[b];
                tail += HalfBits.At(w + wb + 2) * sx[b + 1];
            }
        }
        float sum = TPair.HasMin ? Vector512.Sum(acc) + (Vector256.Sum(mins) + tail) : Vector512.Sum(acc);
        return b < nb ? sum + ScalarTail(TPair.Type, w, x, dx[b], sx[b]) : sum;
    }

    /// <summary>q4_0 (offset 8) and q4_1 (min): two blocks of 16 nibble bytes per step.</summary>
    private struct Avx512Q4<TCodes> : IRowKernel, IPair512 where TCodes : struct, ICodes
    {
        public static int WeightBytes => TCodes.HasMin ? 20 : 18;
        public static bool HasMin => TCodes.HasMin;
        public static GgmlType Type => TCodes.HasMin ? GgmlType.Q4_1 : GgmlType.Q4_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> Sums(byte* w, byte* x)
        {
            int qs = TCodes.HasMin ? 4 : 2, xb = TCodes.HasMin ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes, xs = xb - 32;
            var c = Nibbles512(w + qs, w + WeightBytes + qs);
            return CodeDot<TCodes>(c, Join(Vector256.Load((sbyte*)(x + xs)), Vector256.Load((sbyte*)(x + xb + xs))));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx512Row<Avx512Q4<TCodes>>(w, x, dx, sx, nb);
    }

    /// <summary>q5_0 (offset 16) and q5_1 (min): two blocks of qh + 16 nibble bytes per step.</summary>
    private struct Avx512Q5<TCodes> : IRowKernel, IPair512 where TCodes : struct, ICodes
    {
        public static int WeightBytes => TCodes.HasMin ? 24 : 22;
        public static bool HasMin => TCodes.HasMin;
        public static GgmlType Type => TCodes.HasMin ? GgmlType.Q5_1 : GgmlType.Q5_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> Sums(byte* w, byte* x)
        {
            int qh = TCodes.HasMin ? 4 : 2, qs = qh + 4, xb = TCodes.HasMin ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes, xs = xb - 32;
            var c = Nibbles512(w + qs, w + WeightBytes + qs) | HighBits512(w + qh, w + WeightBytes + qh);
            return CodeDot<TCodes>(c, Join(Vector256.Load((sbyte*)(x + xs)), Vector256.Load((sbyte*)(x + xb + xs))));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx512Row<Avx512Q5<TCodes>>(w, x, dx, sx, nb);
    }

    /// <summary>q8_0: each block's 32 int8 weights and activations widened to int16 and multiplied with
    /// <c>vpmaddwd</c>, exact for any int8; two blocks per step on two FMA chains, scales decoded
    /// <see cref="Group"/> blocks at a time.</summary>
    private struct Avx512Q8_0 : IRowKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            const int wb = 34, xb = Q8Activations.Q8_0BlockBytes;
            var acc0 = Vector512<float>.Zero;
            var acc1 = Vector512<float>.Zero;
            var offsets = GroupOffsets(wb);
            float* scale = stackalloc float[Group];
            int b = 0;
            for (; b + Group <= nb; b += Group)
            {
                (Halves8(w, offsets) * Vector256.Load(dx + b)).Store(scale);
                for (int k = 0; k < Group; k += 2, w += 2 * wb, x += 2 * xb)
                {
                    acc0 = Avx512F.FusedMultiplyAdd(Vector512.Create(scale[k]), Block(w, x), acc0);
                    acc1 = Avx512F.FusedMultiplyAdd(Vector512.Create(scale[k + 1]), Block(w + wb, x + xb), acc1);
                }
            }
            for (; b < nb; b++, w += wb, x += xb)
                acc0 = Avx512F.FusedMultiplyAdd(Vector512.Create(HalfBits.At(w) * dx[b]), Block(w, x), acc0);
            return Vector512.Sum(acc0 + acc1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Block(byte* w, byte* x)
        {
            var wv = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(w + 2)));
            var xv = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(x + 2)));
            return Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(wv, xv));
        }
    }
}
