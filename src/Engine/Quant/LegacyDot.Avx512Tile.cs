using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The register-blocked tile of the block GEMM for q4_0 and q5_0 (AVX-512 + VBMI): four weight rows × two
/// activation rows per pass, so each step's codes (<see cref="IQuad.Codes"/>) are unpacked once for two activation rows
/// and each activation step is loaded once for four weight rows. Every activation row is rearranged once per call
/// (<see cref="Quad"/>, its offset terms negated and added, the same integer as subtracting). The integer and fp32 steps
/// are the four-row kernel's, lane for lane; the scale spread for a step is Spread(d_w)·Spread(d_x), the same products
/// as Spread(d_w·d_x). So every element equals <see cref="DotRows(GgmlType, ReadOnlySpan{byte}, int, ReadOnlySpan{byte}, int, Span{float}, DotIsa)"/>
/// on <see cref="DotIsa.Avx512"/> bit for bit. (The integer sums by 256-bit AVX-VNNI <c>vpdpbusd</c>, the only VNNI
/// .NET 10 emits on a CPU without AVX10, measured 1.2–1.5× slower than these 512-bit <c>vpmaddubsw</c> on this
/// project's Zen 5 machine.)</summary>
internal static unsafe partial class LegacyDot
{
    /// <summary>Whether <see cref="DotTile"/> runs for <paramref name="type"/> on this machine.</summary>
    public static bool HasTile(GgmlType type) =>
        type is GgmlType.Q4_0 or GgmlType.Q5_0 && DotIsas.Detected == DotIsa.Avx512 && Avx512Vbmi.IsSupported;

    /// <summary>dst[i·<paramref name="ldd"/> + r] = weight row r · activation row i, for <paramref name="rows"/> rows of
    /// <paramref name="n"/> values of <paramref name="type"/> (q4_0 or q5_0, <see cref="HasTile"/>) and
    /// <paramref name="m"/> q8_0 activation rows laid end to end in <paramref name="xq"/>.</summary>
    public static void DotTile(GgmlType type, ReadOnlySpan<byte> w, int rows, ReadOnlySpan<byte> xq, int m, int n, Span<float> dst, int ldd)
    {
        if (!HasTile(type)) throw new ArgumentException($"no block GEMM tile for {type.Name()} on this machine", nameof(type));
        if (n <= 0 || n % GgmlTypes.QK != 0) throw new ArgumentException($"n must be a positive multiple of {GgmlTypes.QK}; got {n}", nameof(n));
        int nb = n / GgmlTypes.QK, rowBytes = nb * type.TypeSize(), xRow = nb * Q8Activations.Q8_0BlockBytes;
        if (rows < 0 || m < 0 || w.Length != (long)rows * rowBytes || xq.Length < (long)m * xRow || ldd < rows || (m > 0 && dst.Length < (long)(m - 1) * ldd + rows))
            throw new ArgumentException($"a tile of {rows} {type.Name()} rows × {m} activation rows of {n} values needs {(long)rows * rowBytes} weight bytes, {(long)m * xRow} activation bytes and {(long)Math.Max(m - 1, 0) * ldd + rows} outputs at stride {ldd} ≥ {rows}; got {w.Length}, {xq.Length}, {dst.Length}");
        if (rows == 0 || m == 0) return;
        // Every whole step is rearranged; only the whole groups' offsets are negated for the tile (the tail's steps
        // run in QuadFinish, which subtracts them).
        int groupSteps = nb / QuadGroup * 4, steps = nb / 4, quadRow = steps * QuadBytes;
        byte[] quads = ArrayPool<byte>.Shared.Rent(Math.Max(1, m * quadRow));
        float[] scales = ArrayPool<float>.Shared.Rent(m * nb);
        try
        {
            fixed (byte* pw = w)
            fixed (byte* px = xq)
            fixed (byte* pq = quads)
            fixed (float* pd = scales)
            fixed (float* pr = dst)
            {
                byte offset = type == GgmlType.Q4_0 ? QuadQ4_0.Offset : QuadQ5_0.Offset;
                for (int i = 0; i < m; i++)
                {
                    byte* x = px + (nint)i * xRow;
                    for (int b = 0; b < nb; b++) pd[(nint)i * nb + b] = HalfBits.At(x + b * Q8Activations.Q8_0BlockBytes);
                    byte* q = pq + (nint)i * quadRow;
                    Quad(x, steps, offset, q);
                    Negate(q, groupSteps);
                }
                var first = new Rows(pw, rowBytes, rows, px, pd, pd, nb, pr);
                if (type == GgmlType.Q4_0) Tile<QuadQ4_0>(first, m, xRow, ldd, pq, quadRow, groupSteps);
                else Tile<QuadQ5_0>(first, m, xRow, ldd, pq, quadRow, groupSteps);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(quads);
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    /// <summary>Pairs of activation rows over passes of four weight rows; the weight rows past the last four, and an odd
    /// last activation row, through the four-row kernel's own passes (whose results are the same per element). The
    /// activation offsets of the first <paramref name="groupSteps"/> steps of each row in <paramref name="quads"/> are
    /// negated; the four-row kernel is given them restored.</summary>
    private static void Tile<TQuad>(in Rows first, int m, int xRow, int ldd, byte* quads, int quadRow, int groupSteps) where TQuad : struct, IQuad
    {
        int rows = first.Count;
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            Rows a0 = Act(first, i, xRow, ldd), a1 = Act(first, i + 1, xRow, ldd);
            byte* q0 = quads + (nint)i * quadRow, q1 = q0 + quadRow;
            int r = 0;
            for (; r + 4 <= rows; r += 4) QuadTile4x2<TQuad>(a0, a1, r, q0, q1);
            if (r < rows)
            {
                Negate(q0, groupSteps);
                Negate(q1, groupSteps);
                for (; r < rows; r++) { a0.Dst[r] = QuadRow<TQuad>(a0, r, q0); a1.Dst[r] = QuadRow<TQuad>(a1, r, q1); }
            }
        }
        if (i < m)
        {
            Rows a = Act(first, i, xRow, ldd);
            byte* q = quads + (nint)i * quadRow;
            Negate(q, groupSteps);
            int r = 0;
            for (; r + 4 <= rows; r += 4) QuadRows4<TQuad>(a, r, q);
            for (; r < rows; r++) a.Dst[r] = QuadRow<TQuad>(a, r, q);
        }
    }

    /// <summary>The arguments for activation row <paramref name="i"/>: <paramref name="first"/>'s (row 0's) moved on by
    /// i activation rows, i·Blocks scales and i destination rows.</summary>
    private static Rows Act(in Rows first, int i, int xRow, int ldd) =>
        new(first.W, first.RowBytes, first.Count, first.X + (nint)i * xRow, first.Dx + (nint)i * first.Blocks, first.Dx + (nint)i * first.Blocks,
            first.Blocks, first.Dst + (nint)i * ldd);

    /// <summary>Negates the offset terms of the first <paramref name="steps"/> rearranged steps of one activation row
    /// (both ways: the tile's form and back).</summary>
    private static void Negate(byte* q, int steps)
    {
        for (int s = 0; s < steps; s++) (Vector512<int>.Zero - Vector512.Load((int*)(q + s * QuadBytes + 128))).Store((int*)(q + s * QuadBytes + 128));
    }

    /// <summary>Weight rows <paramref name="r"/>..r+3 with activation rows a0 and a1 in one pass (offsets negated in
    /// <paramref name="q0"/>, <paramref name="q1"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuadTile4x2<TQuad>(in Rows a0, in Rows a1, int r, byte* q0, byte* q1) where TQuad : struct, IQuad
    {
        int wb = TQuad.WeightBytes;
        nint rb = a0.RowBytes;
        byte* w0 = a0.W + r * rb;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        byte* w = w0;
        for (int b = 0; b + QuadGroup <= a0.Blocks; b += QuadGroup)
        {
            var h0 = HalfBits.ToSingles(TQuad.Halves(w));
            var h1 = HalfBits.ToSingles(TQuad.Halves(w + rb));
            var h2 = HalfBits.ToSingles(TQuad.Halves(w + 2 * rb));
            var h3 = HalfBits.ToSingles(TQuad.Halves(w + 3 * rb));
            var d0 = Vector512.Load(a0.Dx + b);
            var d1 = Vector512.Load(a1.Dx + b);
            for (int s = 0; s < 4; s++, w += 4 * wb, q0 += QuadBytes, q1 += QuadBytes)
            {
                var e0 = Spread(d0, s);
                var e1 = Spread(d1, s);
                TileStep<TQuad>(w, q0, q1, Spread(h0, s), e0, e1, ref c00, ref c01);
                TileStep<TQuad>(w + rb, q0, q1, Spread(h1, s), e0, e1, ref c10, ref c11);
                TileStep<TQuad>(w + 2 * rb, q0, q1, Spread(h2, s), e0, e1, ref c20, ref c21);
                TileStep<TQuad>(w + 3 * rb, q0, q1, Spread(h3, s), e0, e1, ref c30, ref c31);
            }
        }
        a0.Dst[r] = QuadFinish<TQuad>(a0, w0, c00, q0);
        a1.Dst[r] = QuadFinish<TQuad>(a1, w0, c01, q1);
        a0.Dst[r + 1] = QuadFinish<TQuad>(a0, w0 + rb, c10, q0);
        a1.Dst[r + 1] = QuadFinish<TQuad>(a1, w0 + rb, c11, q1);
        a0.Dst[r + 2] = QuadFinish<TQuad>(a0, w0 + 2 * rb, c20, q0);
        a1.Dst[r + 2] = QuadFinish<TQuad>(a1, w0 + 2 * rb, c21, q1);
        a0.Dst[r + 3] = QuadFinish<TQuad>(a0, w0 + 3 * rb, c30, q0);
        a1.Dst[r + 3] = QuadFinish<TQuad>(a1, w0 + 3 * rb, c31, q1);
    }

    /// <summary>One step of one weight row with two activation rows: its codes unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileStep<TQuad>(byte* w, byte* q0, byte* q1, Vector512<float> hs, Vector512<float> e0, Vector512<float> e1,
                                        ref Vector512<float> acc0, ref Vector512<float> acc1) where TQuad : struct, IQuad
    {
        TQuad.Codes(w, out var lo, out var hi);
        acc0 = TileFma(lo, hi, q0, hs * e0, acc0);
        acc1 = TileFma(lo, hi, q1, hs * e1, acc1);
    }

    /// <summary>acc + fp32(Σ c·x − offset·Σx per lane)·scale: the four-row kernel's <see cref="QuadStep"/> with the
    /// negated offset term added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TileFma(Vector512<byte> lo, Vector512<byte> hi, byte* q, Vector512<float> scale, Vector512<float> acc)
    {
        var p = Avx512BW.MultiplyAddAdjacent(lo, Vector512.Load((sbyte*)q)) + Avx512BW.MultiplyAddAdjacent(hi, Vector512.Load((sbyte*)(q + 64)));
        var s = Avx512BW.MultiplyAddAdjacent(p, Vector512.Create((short)1)) + Vector512.Load((int*)(q + 128));
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s), scale, acc);
    }
}
