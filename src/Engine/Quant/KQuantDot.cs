using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>Dot products of k-quant weights (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, in their packed ggml block layout) with
/// activations quantized as q8_K (<see cref="Q8KActivations"/>), as ggml's CPU backend computes them
/// (ggml_vec_dot_q2_K_q8_K … ggml_vec_dot_q6_K_q8_K: the scalar generic versions and the AVX2 ones of ggml-cpu
/// arch/x86/quants.c). Per 256-value super-block an exact integer sum Σ_g sc_g·Σ_l q_l·q8_l over the sub-blocks g is
/// formed (weight codes unpacked to small integers, multiplied by the int8 activations, scaled by the sub-block's
/// 4/6/8-bit scale), the min term Σ_g m_g·bsums_g for the affine types Q2_K/Q4_K/Q5_K (and the code offset
/// -4·Σ sc_g·bsums_g / -32·Σ sc_g·bsums_g for the signed Q3_K/Q6_K codes, stored unsigned), and the super-block adds
/// d·d_x·sum - dmin·d_x·mins to an fp32 accumulator. Every ISA path computes the same integer sums; they differ only
/// in the order of the fp32 sums. The AVX2 kernels use AVX-VNNI's vpdpwssd when the CPU has it; the AVX-512 (F + BW)
/// kernels work on 64-value chunks. The kernels are compiled fully optimized at once (AggressiveOptimization): their
/// tier-0 code is about ten times slower, and under load the tier-up can lag far behind.</summary>
internal static unsafe partial class KQuantDot
{
    /// <summary>Σ_i w_i·x_i over <paramref name="n"/> values (a multiple of 256): <paramref name="w"/> is n values of
    /// <paramref name="type"/> (Q2_K…Q6_K) in ggml's layout, <paramref name="xq"/> the activations as q8_K. The fp32
    /// result of the kernel for <paramref name="isa"/>, which must be one this machine runs.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> xq, int n, DotIsa isa)
    {
        var kernel = Select(type, isa);
        Check(type, w.Length, 1, xq.Length, n, "w");
        fixed (byte* pw = w)
        fixed (byte* px = xq)
            return kernel(pw, px, n / GgmlTypes.QK_K, 0);
    }

    /// <summary><see cref="Dot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, DotIsa)"/> on
    /// <see cref="DotIsas.Detected"/>.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> xq, int n) => Dot(type, w, xq, n, DotIsas.Detected);

    /// <summary>How far ahead of the row being multiplied <see cref="DotRows"/> has the SIMD kernels prefetch the weights,
    /// in bytes (whole rows, at least one; 0 turns it off): each block's lines are prefetched that far ahead as the
    /// block is read, one stream running ahead at the rate the rows are consumed, as the q4_0 kernel's four-row pass
    /// does (<see cref="LegacyDot"/>). Settable for the benchmark that chose it (`ggml-gemv`, bench/RESULTS.md).</summary>
    internal static int PrefetchDistance { get; set; } = 8 << 10;

    /// <summary>dst[r] = the dot of weight row r with <paramref name="xq"/> for <paramref name="rows"/> consecutive rows
    /// of <paramref name="n"/> values each (row r at r·type.RowSize(n) bytes of <paramref name="w"/>): the GEMV inner
    /// loop. Arguments are checked and the kernel chosen once per call. While a row is multiplied, the row
    /// <see cref="PrefetchDistance"/> ahead (never past the last) is prefetched; the results do not depend on it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> w, int rows, ReadOnlySpan<byte> xq, int n, Span<float> dst, DotIsa isa)
    {
        var kernel = Select(type, isa);
        if (rows < 0) throw new ArgumentException($"rows must be 0 or more; got {rows}", nameof(rows));
        if (dst.Length != rows) throw new ArgumentException($"dst must hold one value per row ({rows}); it has {dst.Length}", nameof(dst));
        Check(type, w.Length, rows, xq.Length, n, "w");
        int blocks = n / GgmlTypes.QK_K;
        long rowBytes = (long)blocks * type.TypeSize();
        fixed (byte* pw = w)
        fixed (byte* px = xq)
        fixed (float* pd = dst)
        {
            int ahead = PrefetchDistance <= 0 ? 0 : (int)Math.Max(1, (PrefetchDistance + rowBytes - 1) / rowBytes);
            for (int r = 0; r < rows; r++) pd[r] = kernel(pw + r * rowBytes, px, blocks, (nint)(Math.Min(ahead, rows - 1 - r) * rowBytes));
        }
    }

    private static void Check(GgmlType type, int wLength, int rows, int xqLength, int n, string wName)
    {
        if (n <= 0 || n % GgmlTypes.QK_K != 0)
            throw new ArgumentException($"n must be a positive multiple of {GgmlTypes.QK_K} (the k-quant super-block); got {n}", nameof(n));
        long blocks = n / GgmlTypes.QK_K;
        long wBytes = blocks * type.TypeSize() * rows;
        if (wLength != wBytes)
            throw new ArgumentException($"{rows} row(s) of {n} {type.Name()} values take {wBytes} bytes; w has {wLength}", wName);
        long xBytes = blocks * Q8KActivations.BlockBytes;
        if (xqLength != xBytes)
            throw new ArgumentException($"{n} activations as q8_K take {xBytes} bytes; xq has {xqLength}", "xq");
    }

    /// <summary>Prefetches the cache lines of the <paramref name="bytes"/> at <paramref name="p"/> (a block of the row a
    /// kernel's <c>ahead</c> bytes further on; lines 64 bytes apart, so consecutive blocks leave none out). Prefetches
    /// never fault, and an <c>ahead</c> of 0 refetches lines the kernel is reading.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* p, int bytes)
    {
        for (int i = 0; i < bytes; i += 64) Sse.Prefetch0(p + i);
    }

    /// <summary>The kernel for <paramref name="type"/> on <paramref name="isa"/>: (weights, q8_K activations, super-blocks,
    /// prefetch distance in bytes, which the scalar kernels ignore) → dot.</summary>
    private static delegate*<byte*, byte*, int, nint, float> Select(GgmlType type, DotIsa isa)
    {
        if (!type.IsKQuant())
            throw new ArgumentException($"KQuantDot multiplies the k-quants q2_K, q3_K, q4_K, q5_K, q6_K; got {DescribeType(type)}", nameof(type));
        if (isa is < DotIsa.Scalar or > DotIsa.Avx512)
            throw new ArgumentException($"isa must be Scalar, Avx2 or Avx512; got {isa}", nameof(isa));
        if (isa > DotIsas.Detected)
            throw new ArgumentException($"isa {isa} is not supported by this CPU; the best it runs is {DotIsas.Detected}", nameof(isa));
        if (isa == DotIsa.Scalar)
        {
            return type switch
            {
                GgmlType.Q2_K => &Q2KScalar,
                GgmlType.Q3_K => &Q3KScalar,
                GgmlType.Q4_K => &Q4KScalar,
                GgmlType.Q5_K => &Q5KScalar,
                _ => &Q6KScalar,
            };
        }
        if (isa == DotIsa.Avx512)
        {
            return type switch
            {
                GgmlType.Q2_K => &Q2KAvx512,
                GgmlType.Q3_K => &Q3KAvx512,
                GgmlType.Q4_K => &Q4KAvx512,
                GgmlType.Q5_K => &Q5KAvx512,
                _ => &Q6KAvx512,
            };
        }
        return type switch
        {
            GgmlType.Q2_K => &Q2KAvx2,
            GgmlType.Q3_K => &Q3KAvx2,
            GgmlType.Q4_K => &Q4KAvx2,
            GgmlType.Q5_K => &Q5KAvx2,
            _ => &Q6KAvx2,
        };
    }

    private static string DescribeType(GgmlType type) => GgmlTypes.IsDefined((uint)type) ? type.Name() : $"type id {(uint)type}";
}
