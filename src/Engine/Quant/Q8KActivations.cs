using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>Activations as ggml block_q8_K = { float d; int8 qs[256]; int16 bsums[16] } (292 bytes per 256 values,
/// little-endian): the vec_dot_type the k-quant kernels of <see cref="KQuantDot"/> multiply with. Quantized exactly like
/// ggml's quantize_row_q8_K_ref (which the x86 CPU backend's quantize_row_q8_K also calls): per block, max is the
/// first value of largest magnitude (strict &gt;); when that magnitude is 0 (or no value compares greater, as with all
/// NaN) the block is all zero, d = 0; otherwise iscale = -127/max (fp32), qs[j] = min(127, nearest_int(iscale·x[j]))
/// with nearest_int rounding half to even, and d = 1/iscale (fp32), so d has the sign of -max and d·qs of the largest
/// value is max. bsums[j] is the sum of qs[16j .. 16j+15]. Dequantized as d·qs. (ggml leaves an all-zero block's
/// bsums unwritten; here they are 0 like the rest of the block.)</summary>
internal static class Q8KActivations
{
    /// <summary>Bytes of one block_q8_K.</summary>
    public const int BlockBytes = 292;

    /// <summary>Byte offset of qs[0] in a block.</summary>
    public const int QsOffset = 4;

    /// <summary>Byte offset of bsums[0] in a block.</summary>
    public const int BsumsOffset = 4 + GgmlTypes.QK_K;

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 256 values) into <paramref name="dst"/>, which must be
    /// exactly x.Length/256·292 bytes. Blocks of finite values take a Vector256 path (same products, same
    /// round-half-to-even, so the same bytes); a block holding an inf or NaN takes the scalar one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Quantize(ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (x.Length % GgmlTypes.QK_K != 0)
            throw new ArgumentException($"q8_K quantizes blocks of {GgmlTypes.QK_K} values; got {x.Length} values, not a multiple of {GgmlTypes.QK_K}", nameof(x));
        long bytes = (long)x.Length / GgmlTypes.QK_K * BlockBytes;
        if (dst.Length != bytes)
            throw new ArgumentException($"{x.Length} values as q8_K take {bytes} bytes; destination has {dst.Length}", nameof(dst));
        fixed (float* px = x)
        fixed (byte* py = dst)
        {
            for (int b = 0; b < x.Length / GgmlTypes.QK_K; b++)
            {
                if (!Vector256.IsHardwareAccelerated || !QuantizeFiniteBlock(px + b * GgmlTypes.QK_K, py + b * BlockBytes))
                    QuantizeBlock(x.Slice(b * GgmlTypes.QK_K, GgmlTypes.QK_K), dst.Slice(b * BlockBytes, BlockBytes));
            }
        }
    }

    /// <summary>The Vector256 form of <see cref="QuantizeBlock"/>; returns false, writing nothing, when the block
    /// holds an inf or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool QuantizeFiniteBlock(float* x, byte* y)
    {
        var amax = Vector256<float>.Zero;
        var finite = Vector256<float>.AllBitsSet.AsUInt32();
        var inf = Vector256.Create(float.PositiveInfinity);
        for (int i = 0; i < GgmlTypes.QK_K; i += 8)
        {
            var a = Vector256.Abs(Vector256.Load(x + i));
            amax = Vector256.Max(amax, a);
            finite &= Vector256.LessThan(a, inf).AsUInt32(); // false for inf and NaN
        }
        if (finite != Vector256<uint>.AllBitsSet) return false;
        var half = Vector128.Max(amax.GetLower(), amax.GetUpper());
        float m = MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
        if (m == 0)
        {
            new Span<byte>(y, BlockBytes).Clear();
            return true;
        }
        // The first value of largest magnitude, as the scalar strict-> scan finds it.
        var target = Vector256.Create(m);
        int at = 0;
        while (true)
        {
            uint hits = Vector256.Equals(Vector256.Abs(Vector256.Load(x + at)), target).ExtractMostSignificantBits();
            if (hits != 0) { at += BitOperations.TrailingZeroCount(hits); break; }
            at += 8;
        }
        float iscale = -127f / x[at];
        var scale = Vector256.Create(iscale);
        var top = Vector256.Create(127);
        sbyte* qs = (sbyte*)(y + QsOffset);
        short* bsums = (short*)(y + BsumsOffset);
        for (int g = 0; g < GgmlTypes.QK_K / 16; g++)
        {
            var lo = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 16 * g) * scale)), top);
            var hi = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 16 * g + 8) * scale)), top);
            var q16 = Vector256.Narrow(lo, hi);
            Vector128.Narrow(q16.GetLower(), q16.GetUpper()).Store(qs + 16 * g);
            bsums[g] = (short)Vector256.Sum(lo + hi);
        }
        Unsafe.WriteUnaligned(y, 1 / iscale);
        return true;
    }

    /// <summary>Decodes q8_K blocks (exactly dst.Length/256·292 bytes) as d·qs.</summary>
    public static void Dequantize(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length % GgmlTypes.QK_K != 0)
            throw new ArgumentException($"q8_K stores blocks of {GgmlTypes.QK_K} values; destination has {dst.Length} values, not a multiple of {GgmlTypes.QK_K}", nameof(dst));
        long bytes = (long)dst.Length / GgmlTypes.QK_K * BlockBytes;
        if (src.Length != bytes)
            throw new ArgumentException($"{dst.Length} values as q8_K take {bytes} bytes; source has {src.Length}", nameof(src));
        for (int b = 0; b < dst.Length / GgmlTypes.QK_K; b++)
        {
            var blk = src.Slice(b * BlockBytes, BlockBytes);
            float d = BinaryPrimitives.ReadSingleLittleEndian(blk);
            var o = dst.Slice(b * GgmlTypes.QK_K, GgmlTypes.QK_K);
            for (int j = 0; j < GgmlTypes.QK_K; j++) o[j] = d * (sbyte)blk[QsOffset + j];
        }
    }

    private static void QuantizeBlock(ReadOnlySpan<float> x, Span<byte> y)
    {
        float max = 0, amax = 0;
        for (int j = 0; j < x.Length; j++)
        {
            float ax = MathF.Abs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0)
        {
            y.Clear();
            return;
        }
        float iscale = -127f / max;
        var qs = y.Slice(QsOffset, GgmlTypes.QK_K);
        for (int j = 0; j < x.Length; j++) qs[j] = (byte)(sbyte)Math.Min(127, KQuantSearch.NearestInt(iscale * x[j]));
        for (int g = 0; g < GgmlTypes.QK_K / 16; g++)
        {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += (sbyte)qs[16 * g + l];
            BinaryPrimitives.WriteInt16LittleEndian(y[(BsumsOffset + 2 * g)..], (short)sum);
        }
        BinaryPrimitives.WriteSingleLittleEndian(y, 1 / iscale);
    }
}
