using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The pieces the AVX-512 (F + BW) kernels share. They work on 64-value chunks in the activations' order:
/// the 32 packed bytes that hold a chunk are broadcast to both 256-bit halves and shifted by a different count per
/// half (vpsrlvw/vpsllvw), so one vpmaddubsw covers 64 values where the AVX2 kernels need two; the sub-block scales
/// are laid over the chunk's int16 pairs with one vpermw, and vpmaddwd + add forms the int32 sums (.NET 10
/// exposes no 512-bit vpdpwssd: AvxVnni is 128/256-bit only). Same integer sums as the scalar and AVX2 kernels; the signed-code offsets and the
/// mins go through the bsums as there.</summary>
internal static unsafe partial class KQuantDot
{
    /// <summary>acc + Σ pairs of scale·(pairs of q·y), in int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> ScaledDot(Vector512<int> acc, Vector512<byte> q, sbyte* y, Vector512<short> scale)
    {
        var p = Avx512BW.MultiplyAddAdjacent(q, Avx512BW.LoadVector512(y));
        return Avx512F.Add(acc, Avx512BW.MultiplyAddAdjacent(p, scale));
    }

    /// <summary>The 32 bytes at <paramref name="p"/> in both 256-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Both(byte* p)
    {
        var v = Avx.LoadVector256(p);
        return Avx512F.InsertVector256(v.ToVector512Unsafe(), v, 1);
    }

    /// <summary>Each 16-bit word shifted right by <paramref name="lo"/> in the low 256 bits and <paramref name="hi"/> in the high.</summary>
    private static Vector512<ushort> Counts(int lo, int hi) => Vector512.Create(Vector256.Create((ushort)lo), Vector256.Create((ushort)hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Shr(Vector512<byte> v, Vector512<ushort> counts) => Avx512BW.ShiftRightLogicalVariable(v.AsUInt16(), counts).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Shl(Vector512<byte> v, Vector512<ushort> counts) => Avx512BW.ShiftLeftLogicalVariable(v.AsUInt16(), counts).AsByte();

    /// <summary>vpermw indices that give int16 pair i of a 64-value chunk the scale of its 16-value sub-block
    /// <paramref name="first"/> + i / 8 (q2_K, q3_K, q6_K).</summary>
    private static Vector512<short> Groups16(int first) => Vector512.Create(
        Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)(first + 1))),
        Vector256.Create(Vector128.Create((short)(first + 2)), Vector128.Create((short)(first + 3))));

    /// <summary>vpermw indices for a 64-value chunk of two 32-value sub-blocks <paramref name="first"/>, first + 1 (q4_K, q5_K).</summary>
    private static Vector512<short> Groups32(int first) => Vector512.Create(Vector256.Create((short)first), Vector256.Create((short)(first + 1)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Spread(Vector512<short> scales, Vector512<short> idx) => Avx512BW.PermuteVar32x16(scales, idx);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ToFloat(Vector512<int> v) => Avx512F.ConvertToVector512Single(v);
}
