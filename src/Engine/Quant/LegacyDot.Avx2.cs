using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The AVX2 + FMA kernels, as ggml-cpu's x86 <c>__AVX2__</c> paths: one block per step, its 32 codes in one
/// 256-bit vector, the int8 products summed to eight int32 lanes (AVX-VNNI <c>vpdpbusd</c> when the CPU has it, else
/// <c>vpmaddubsw</c> + <c>vpmaddwd</c>, which cannot saturate on these operands), converted to fp32 and accumulated with
/// one FMA by the block's scale. Signed weights (q4_0, q5_0, q8_0) use ggml's sign trick: |w| times x with w's sign.
/// Unlike ggml, the weight scales (and q4_1/q5_1 mins) of eight blocks at a time are gathered and decoded from fp16 in
/// one vector (<see cref="Halves8"/>), and the min terms accumulate in a vector too.</summary>
internal static unsafe partial class LegacyDot
{
    /// <summary>Blocks whose scales are decoded together.</summary>
    private const int Group = 8;

    private static void RunAvx2(GgmlType type, in Rows a, bool vnni)
    {
        if (vnni) RunAvx2<Vnni256>(type, a);
        else RunAvx2<MaddUbs256>(type, a);
    }

    private static void RunAvx2<TDot>(GgmlType type, in Rows a) where TDot : struct, IDot256
    {
        switch (type)
        {
            case GgmlType.Q4_0: Run<Avx2Q4_0<TDot>>(a); break;
            case GgmlType.Q4_1: Run<Avx2Q4_1<TDot>>(a); break;
            case GgmlType.Q5_0: Run<Avx2Q5_0<TDot>>(a); break;
            case GgmlType.Q5_1: Run<Avx2Q5_1<TDot>>(a); break;
            default: Run<Avx2Q8_0<TDot>>(a); break;
        }
    }

    /// <summary>Eight int32 sums of four adjacent u8·s8 products each.</summary>
    private interface IDot256
    {
        static abstract Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s);
    }

    private struct Vnni256 : IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) => AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
    }

    private struct MaddUbs256 : IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
    }

    /// <summary>Byte offsets of the same field in <see cref="Group"/> consecutive blocks of <paramref name="blockBytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> GroupOffsets(int blockBytes) => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * blockBytes;

    /// <summary>The fp16 values at <paramref name="p"/> + each offset, as fp32 (one gather, one vector decode).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Halves8(byte* p, Vector256<int> offsets) => HalfBits.ToSingles(Avx2.GatherVector256((int*)p, offsets, 1).AsUInt32());

    /// <summary>The 16 bytes at <paramref name="qs"/> as 32 nibbles in block order: low nibbles (values 0..15), then
    /// high nibbles (16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles256(byte* qs)
    {
        var v = Vector128.Load(qs);
        return Vector256.Create(v, Vector128.ShiftRightLogical(v.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)0x0F);
    }

    /// <summary>The 32 bits of q5's qh at <paramref name="qh"/> as 32 bytes, 0xFF where the bit is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Bits256(byte* qh)
    {
        var v = Vector256.Create(Unsafe.ReadUnaligned<uint>(qh)).AsByte();
        var spread = Avx2.Shuffle(v, Vector256.Create(0x0000000000000000UL, 0x0101010101010101UL, 0x0202020202020202UL, 0x0303030303030303UL).AsByte());
        var bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & bit, bit);
    }

    /// <summary>x·w for signed weight codes w: |w| (unsigned) against x with w's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedDot<TDot>(Vector256<sbyte> w, Vector256<sbyte> x) where TDot : struct, IDot256 =>
        TDot.Dot(Avx2.Abs(w), Avx2.Sign(x, w));

    /// <summary>The eight int32 sums of one block of weight codes with one activation block.</summary>
    private interface IBlock256
    {
        static abstract int WeightBytes { get; }
        static abstract bool HasMin { get; }
        static abstract Vector256<int> Sums(byte* w, byte* x);
    }

    /// <summary>A row: per block acc += fp32(d_w)·d_x·fp32(sums), scales decoded <see cref="Group"/> blocks at a time;
    /// plus Σ m_w·s_x for the types with a min.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Avx2Row<TBlock>(byte* w, byte* x, float* dx, float* sx, int nb) where TBlock : struct, IBlock256
    {
        int wb = TBlock.WeightBytes;
        int xb = TBlock.HasMin ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        var acc = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero; // a second FMA chain, so the FMA latency does not bound the loop
        var mins = Vector256<float>.Zero;
        var offsets = GroupOffsets(wb);
        float* scale = stackalloc float[Group];
        int b = 0;
        for (; b + Group <= nb; b += Group)
        {
            (Halves8(w, offsets) * Vector256.Load(dx + b)).Store(scale);
            if (TBlock.HasMin) mins = Fma.MultiplyAdd(Halves8(w + 2, offsets), Vector256.Load(sx + b), mins);
            for (int k = 0; k < Group; k += 2, w += 2 * wb, x += 2 * xb)
            {
                acc = Fma.MultiplyAdd(Vector256.Create(scale[k]), Avx.ConvertToVector256Single(TBlock.Sums(w, x)), acc);
                acc1 = Fma.MultiplyAdd(Vector256.Create(scale[k + 1]), Avx.ConvertToVector256Single(TBlock.Sums(w + wb, x + xb)), acc1);
            }
        }
        acc += acc1;
        float tail = 0f;
        for (; b < nb; b++, w += wb, x += xb)
        {
            acc = Fma.MultiplyAdd(Vector256.Create(HalfBits.At(w) * dx[b]), Avx.ConvertToVector256Single(TBlock.Sums(w, x)), acc);
            if (TBlock.HasMin) tail += HalfBits.At(w + 2) * sx[b];
        }
        return TBlock.HasMin ? Vector256.Sum(acc) + (Vector256.Sum(mins) + tail) : Vector256.Sum(acc);
    }

    private struct Avx2Q4_0<TDot> : IRowKernel, IBlock256 where TDot : struct, IDot256
    {
        public static int WeightBytes => 18;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sums(byte* w, byte* x) =>
            SignedDot<TDot>(Nibbles256(w + 2).AsSByte() - Vector256.Create((sbyte)8), Vector256.Load((sbyte*)(x + 2)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx2Row<Avx2Q4_0<TDot>>(w, x, dx, sx, nb);
    }

    private struct Avx2Q5_0<TDot> : IRowKernel, IBlock256 where TDot : struct, IDot256
    {
        public static int WeightBytes => 22;
        public static bool HasMin => false;

        /// <summary>code - 16 = nibble where qh's bit is set, else nibble - 16 = nibble | 0xF0 as int8.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sums(byte* w, byte* x) =>
            SignedDot<TDot>((Nibbles256(w + 6) | Vector256.AndNot(Vector256.Create((byte)0xF0), Bits256(w + 2))).AsSByte(), Vector256.Load((sbyte*)(x + 2)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx2Row<Avx2Q5_0<TDot>>(w, x, dx, sx, nb);
    }

    private struct Avx2Q8_0<TDot> : IRowKernel, IBlock256 where TDot : struct, IDot256
    {
        public static int WeightBytes => 34;
        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sums(byte* w, byte* x) => SignedDot<TDot>(Vector256.Load((sbyte*)(w + 2)), Vector256.Load((sbyte*)(x + 2)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx2Row<Avx2Q8_0<TDot>>(w, x, dx, sx, nb);
    }

    private struct Avx2Q4_1<TDot> : IRowKernel, IBlock256 where TDot : struct, IDot256
    {
        public static int WeightBytes => 20;
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sums(byte* w, byte* x) => TDot.Dot(Nibbles256(w + 4), Vector256.Load((sbyte*)(x + 4)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx2Row<Avx2Q4_1<TDot>>(w, x, dx, sx, nb);
    }

    private struct Avx2Q5_1<TDot> : IRowKernel, IBlock256 where TDot : struct, IDot256
    {
        public static int WeightBytes => 24;
        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Sums(byte* w, byte* x) =>
            TDot.Dot(Nibbles256(w + 8) | (Bits256(w + 4) & Vector256.Create((byte)0x10)), Vector256.Load((sbyte*)(x + 4)));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => Avx2Row<Avx2Q5_1<TDot>>(w, x, dx, sx, nb);
    }
}
