using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The AVX2 + FMA kernels, as ggml-cpu's x86 <c>__AVX2__</c> paths: one block per step, its 32 codes in one
/// 256-bit vector, the int8 products summed to eight int32 lanes (AVX-VNNI <c>vpdpbusd</c> when the CPU has it, else
/// <c>vpmaddubsw</c> + <c>vpmaddwd</c>, which cannot saturate on these operands), converted to fp32 and accumulated with
/// one FMA by the block's scale. Signed weights (q4_0, q5_0, q8_0) use ggml's sign trick: |w| times x with w's sign.</summary>
internal static unsafe partial class LegacyDot
{
    private static void RunAvx2(GgmlType type, in Rows a)
    {
        if (AvxVnni.IsSupported) RunAvx2<Vnni256>(type, a);
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

    /// <summary>The 16 bytes at <paramref name="qs"/> as 32 nibbles in block order: low nibbles (values 0..15), then
    /// high nibbles (16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles256(byte* qs)
    {
        var v = Vector128.Load(qs);
        var m = Vector128.Create((byte)0x0F);
        return Vector256.Create(v & m, Vector128.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & m);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(float scale, Vector256<int> sums, Vector256<float> acc) =>
        Fma.MultiplyAdd(Vector256.Create(scale), Avx.ConvertToVector256Single(sums), acc);

    private struct Avx2Q4_0<TDot> : IRowKernel where TDot : struct, IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            var acc = Vector256<float>.Zero;
            var eight = Vector256.Create((sbyte)8);
            for (int b = 0; b < nb; b++, w += 18, x += Q8Activations.Q8_0BlockBytes)
            {
                var q = Nibbles256(w + 2).AsSByte() - eight;
                var i = SignedDot<TDot>(q, Vector256.Load((sbyte*)(x + 2)));
                acc = Fma256(HalfToSingle(Unsafe.ReadUnaligned<ushort>(w)) * dx[b], i, acc);
            }
            return Vector256.Sum(acc);
        }
    }

    private struct Avx2Q5_0<TDot> : IRowKernel where TDot : struct, IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            var acc = Vector256<float>.Zero;
            var high = Vector256.Create((byte)0xF0);
            for (int b = 0; b < nb; b++, w += 22, x += Q8Activations.Q8_0BlockBytes)
            {
                // code - 16 = nibble where bit 4 is set, else nibble - 16 = nibble | 0xF0 as int8.
                var q = (Nibbles256(w + 6) | Vector256.AndNot(high, Bits256(w + 2))).AsSByte();
                var i = SignedDot<TDot>(q, Vector256.Load((sbyte*)(x + 2)));
                acc = Fma256(HalfToSingle(Unsafe.ReadUnaligned<ushort>(w)) * dx[b], i, acc);
            }
            return Vector256.Sum(acc);
        }
    }

    private struct Avx2Q8_0<TDot> : IRowKernel where TDot : struct, IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < nb; b++, w += 34, x += Q8Activations.Q8_0BlockBytes)
            {
                var i = SignedDot<TDot>(Vector256.Load((sbyte*)(w + 2)), Vector256.Load((sbyte*)(x + 2)));
                acc = Fma256(HalfToSingle(Unsafe.ReadUnaligned<ushort>(w)) * dx[b], i, acc);
            }
            return Vector256.Sum(acc);
        }
    }

    private struct Avx2Q4_1<TDot> : IRowKernel where TDot : struct, IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            var acc = Vector256<float>.Zero;
            float mins = 0f;
            for (int b = 0; b < nb; b++, w += 20, x += Q8Activations.Q8_1BlockBytes)
            {
                var i = TDot.Dot(Nibbles256(w + 4), Vector256.Load((sbyte*)(x + 4)));
                acc = Fma256(HalfToSingle(Unsafe.ReadUnaligned<ushort>(w)) * dx[b], i, acc);
                mins += HalfToSingle(Unsafe.ReadUnaligned<ushort>(w + 2)) * sx[b];
            }
            return Vector256.Sum(acc) + mins;
        }
    }

    private struct Avx2Q5_1<TDot> : IRowKernel where TDot : struct, IDot256
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb)
        {
            var acc = Vector256<float>.Zero;
            var bit4 = Vector256.Create((byte)0x10);
            float mins = 0f;
            for (int b = 0; b < nb; b++, w += 24, x += Q8Activations.Q8_1BlockBytes)
            {
                var q = Nibbles256(w + 8) | (Bits256(w + 4) & bit4);
                var i = TDot.Dot(q, Vector256.Load((sbyte*)(x + 4)));
                acc = Fma256(HalfToSingle(Unsafe.ReadUnaligned<ushort>(w)) * dx[b], i, acc);
                mins += HalfToSingle(Unsafe.ReadUnaligned<ushort>(w + 2)) * sx[b];
            }
            return Vector256.Sum(acc) + mins;
        }
    }
}
