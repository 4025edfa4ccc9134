using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>fp16 bits to fp32 inside the block kernels and the decode attention: exact for every value, the same bits
/// as .NET's Half conversion (a signaling NaN comes back quiet, as vcvtph2ps gives it), and inlined, so the kernels keep
/// their vector registers live (System.Half's conversion is a call, and .NET 10 exposes no vcvtph2ps). A normal half's
/// exponent is rebased by an integer add; a subnormal's 10-bit mantissa is converted to fp32 and scaled by 2^-24 (both
/// exact); infinities and NaN keep their payload under an all-ones exponent. No path does arithmetic on an fp32
/// subnormal. The kernels' earlier decode read the magnitude bits as an fp32 2^-112 times the half and rescaled it by a
/// multiply: a subnormal operand for every subnormal half, and on this machine each such multiply took a microcode
/// assist. q6_K's d is subnormal for weights of std 0.02 (d ≈ 1e-5), which held its GEMV at 14 GB/s against 34 after
/// (one thread, 2026-12-06, bench/RESULTS.md). The vector decoders are branch-free; measured in the k-quant kernels
/// (`kquant`), they beat both a per-lane-group branch to a rebase-only fast path (inlined or not) and the scalar
/// decoder, and the k-quant kernels decode their d (and dmin) through them. They cost those kernels 2–15% against the
/// old decode on normal scales, in exchange for 2.5× on subnormal ones.</summary>
internal static class HalfBits
{
    private const uint Rebase = (127 - 15) << 23;
    private const float TwoPowMinus24 = 5.9604645E-08f;
    private const uint TwoPowMinus14Bits = 113u << 23;

    /// <summary>The half with bits <paramref name="h"/> as fp32: a normal half's bits rebased (one integer add), anything
    /// else through <see cref="Unusual"/>. The scalar kernels and the legacy kernels' one scale per block use it; the
    /// branch predicts well there (a weight's scales are normal, or subnormal, run after run). In the k-quant SIMD
    /// kernels this scalar decode measured 30% slower than the branch-free vector one (<see cref="Pair"/>,
    /// <see cref="One"/>; `kquant`, 2026-12-06).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort h)
    {
        if ((uint)((h & 0x7C00) - 0x0400) < 0x7800u)
            return BitConverter.UInt32BitsToSingle((((uint)h & 0x7FFFu) << 13) + Rebase | ((uint)h & 0x8000u) << 16);
        return Unusual(h);
    }

    /// <summary><see cref="ToSingle"/> for zeros, subnormals, infinities and NaN, branch-free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Unusual(ushort h)
    {
        uint m = h & 0x7FFFu;
        uint isSubnormal = (uint)((int)(m - 0x400) >> 31);                                  // all ones when m < 0x400
        // A subnormal's bits rebased one exponent higher read 2^-14 + m·2^-24; taking 2^-14 off is exact (Sterbenz).
        float rebased = BitConverter.UInt32BitsToSingle((m << 13) + Rebase + (isSubnormal & (1u << 23)));
        uint magnitude = BitConverter.SingleToUInt32Bits(rebased - BitConverter.UInt32BitsToSingle(isSubnormal & TwoPowMinus14Bits));
        uint special = (uint)((h & 0x7C00) + 0x0400) >> 15;                                 // 1 for infinity and NaN
        uint quiet = (special & (uint)((h & 0x03FF) + 0x03FF) >> 10) << 22;                 // NaN: set the quiet bit
        return BitConverter.UInt32BitsToSingle(magnitude | ((0u - special) & 0x7F800000u) | quiet | (uint)(h & 0x8000) << 16);
    }

    /// <summary>The fp16 value at <paramref name="p"/> (any alignment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float At(byte* p) => ToSingle(Unsafe.ReadUnaligned<ushort>(p));

    /// <summary><see cref="ToSingle"/> on four lanes (the high half of each ignored): the k-quant kernels decode a block's
    /// d and dmin together this way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToSingles(Vector128<uint> h)
    {
        var m = h & Vector128.Create(0x7FFFu);
        var subnormal = (Vector128.ConvertToSingle(m.AsInt32()) * Vector128.Create(TwoPowMinus24)).AsUInt32();
        var magnitude = Vector128.ConditionalSelect(Vector128.LessThan(m, Vector128.Create(0x400u)), subnormal, Vector128.ShiftLeft(m, 13) + Vector128.Create(Rebase));
        var special = Vector128.Equals(h & Vector128.Create(0x7C00u), Vector128.Create(0x7C00u));
        var quiet = Vector128.AndNot(special, Vector128.Equals(h & Vector128.Create(0x03FFu), Vector128<uint>.Zero)) & Vector128.Create(0x00400000u);
        return (magnitude | (special & Vector128.Create(0x7F800000u)) | quiet | Vector128.ShiftLeft(h & Vector128.Create(0x8000u), 16)).AsSingle();
    }

    /// <summary>The fp16 value at <paramref name="p"/> in lane 0 (the others zero): the vector decode, which the block
    /// kernels' loops run faster than <see cref="ToSingle"/> (a block's scale is then broadcast from the lane anyway).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<float> One(byte* p) => ToSingles(Vector128.CreateScalar((uint)Unsafe.ReadUnaligned<ushort>(p)));

    /// <summary>The two fp16 values at <paramref name="p"/> and p + 2 in lanes 0 and 1 (lanes 2, 3 zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector128<float> Pair(byte* p) =>
        ToSingles(System.Runtime.Intrinsics.X86.Sse41.ConvertToVector128Int32(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(p)).AsUInt16()).AsUInt32());

    /// <summary>The fp16 bits in the low half of each lane as fp32 (the high halves ignored): <see cref="ToSingle"/> on
    /// eight lanes, as two four-lane halves (the AVX2 kernels' gathered scales, one per block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingles(Vector256<uint> h) => Vector256.Create(ToSingles(h.GetLower()), ToSingles(h.GetUpper()));

    /// <summary><see cref="ToSingle"/> on sixteen lanes (the high half of each ignored), branch-free. A branch to a
    /// rebase-only path when all sixteen are normal measured slower in the k-quant kernels and no better in the decode
    /// attention, which converts a cached row once for its group of heads (2026-12-06).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingles(Vector512<uint> h)
    {
        var magnitude = Magnitude(h);
        var special = Vector512.Equals(h & Vector512.Create(0x7C00u), Vector512.Create(0x7C00u));
        var quiet = Vector512.AndNot(special, Vector512.Equals(h & Vector512.Create(0x03FFu), Vector512<uint>.Zero)) & Vector512.Create(0x00400000u);
        return (magnitude | (special & Vector512.Create(0x7F800000u)) | quiet | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    /// <summary>The fp32 bits of |half| for finite halves (the exponent of an infinity or NaN rebased, to be overwritten).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Magnitude(Vector512<uint> h)
    {
        var m = h & Vector512.Create(0x7FFFu);
        var subnormal = (Vector512.ConvertToSingle(m.AsInt32()) * Vector512.Create(TwoPowMinus24)).AsUInt32();
        return Vector512.ConditionalSelect(Vector512.LessThan(m, Vector512.Create(0x400u)), subnormal, Vector512.ShiftLeft(m, 13) + Vector512.Create(Rebase));
    }
}
