using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The pieces the AVX2 kernels share. Each 32-byte chunk of unpacked weight codes (unsigned, 0..63) meets 32
/// int8 activations in vpmaddubsw (pairs of u8·s8 into int16: at most 2·63·127, no saturation), then vpmaddwd with
/// the sub-block scales broadcast as int16 sums pairs into int32 (fused with the add as AVX-VNNI's vpdpwssd where the
/// CPU has it), as ggml's AVX2 ggml_vec_dot_*_K_q8_K do. Codes that are signed in the format (q3_K: q - 4, q6_K:
/// q - 32) are multiplied unsigned and the offset is taken off once per super-block through the q8_K bsums
/// (Σ_g sc_g·bsums_g), where ggml's AVX2 code spends a second vpmaddubsw per chunk.</summary>
internal static unsafe partial class KQuantDot
{
    /// <summary>acc + Σ pairs of scale·(pairs of q·y), in int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledDot(Vector256<int> acc, Vector256<byte> q, sbyte* y, Vector256<short> scale)
    {
        var p = Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256(y));
        return AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, scale) : Avx2.Add(acc, Avx2.MultiplyAddAdjacent(p, scale));
    }

    /// <summary>vpshufb mask that spreads, within a 128-bit lane pair holding the same 8 int16 scales, scale 2s over the low lane and
    /// scale 2s + 1 over the high lane, for the 16-value sub-blocks of q2_K/q3_K/q6_K (a 32-value chunk spans two).</summary>
    private static Vector256<byte> PairMask(int s) => Vector256.Create(
        Vector128.Create((ushort)(4 * s | (4 * s + 1) << 8)).AsByte(),
        Vector128.Create((ushort)((4 * s + 2) | (4 * s + 3) << 8)).AsByte());

    /// <summary>vpshufb mask that spreads int16 element <paramref name="g"/> of each 128-bit lane over the whole vector.</summary>
    private static Vector256<byte> SplatMask(int g) => Vector256.Create((ushort)(2 * g | (2 * g + 1) << 8)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Pick(Vector256<short> scales, Vector256<byte> mask) => Avx2.Shuffle(scales.AsByte(), mask).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Shr(Vector256<byte> v, [ConstantExpected] byte bits) => Avx2.ShiftRightLogical(v.AsUInt16(), bits).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Shl(Vector256<byte> v, [ConstantExpected] byte bits) => Avx2.ShiftLeftLogical(v.AsUInt16(), bits).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Bsums(byte* x) => Avx.LoadVector256((short*)(x + Q8Bsums));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ToFloat(Vector256<int> v) => Avx.ConvertToVector256Single(v);
}
