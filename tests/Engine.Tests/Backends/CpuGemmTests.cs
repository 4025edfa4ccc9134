using Engine.Backends.Cpu;
using Engine.Tensors;

namespace Engine.Tests.Backends;

/// <summary><see cref="CpuGemm.Sgemm(bool,bool,int,int,int,float,float[],int,int,float[],int,int,float,float[],int,int)"/>
/// against a float64 reference, for every micro-kernel this machine can run.
/// Tolerance: with unit roundoff u = 2⁻²⁴, a sum of K products accumulated one fused multiply-add at a time is within
/// γ_K·Σ|a_p·b_p| of the exact sum (γ_K = K·u/(1−K·u), Higham, Accuracy and Stability, §3.1). The blocked path adds at
/// most K/KC + 2 further roundings (merging K blocks into C, alpha·acc, + beta·c), and the dot path's pairwise sums
/// round no more often, so |C − C_ref| ≤ 2·(K + 3)·u·(|alpha|·Σ_p|a_ip·b_pj| + |beta·c_ij|) holds with a factor-2
/// margin for the 1/(1−K·u) term and the last rounding of beta·c. Operands are uniform in [−1, 1), so one missing
/// or wrong product (~Σ/K on average) is hundreds of times larger than this bound for the K used here.</summary>
public class CpuGemmTests
{
    // Kernel names, not GemmIsa values: the enum is internal and xunit theories must be public.
    public static TheoryData<string> Isas()
    {
        var data = new TheoryData<string>();
        foreach (var isa in Enum.GetValues<GemmIsa>())
            if (isa <= CpuGemm.DetectedIsa) data.Add(isa.ToString());
        return data;
    }

    // Odd sizes straddle every tile edge (MR 12/6/4, NR 32/16/4) and the small-shape limit (8); K 700 crosses the
    // KC = 320 block; M 1030 crosses MC = 960; N 2100 crosses NC = 2048. The shapes with m·n·k above 2·10⁶ also
    // run on two threads (blocked: 65×129×257, 129×257×63; small: 5×2000×300, 2000×6×300).
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (7, 17, 63), (65, 129, 257), (257, 65, 17), (129, 257, 63), (17, 1, 257), (1, 257, 129),
        (63, 7, 65), (8, 9, 300), (9, 8, 300), (13, 33, 700), (1030, 20, 3), (24, 2100, 3), (5, 2000, 300),
        (2000, 6, 300),
    ];

    [Theory, MemberData(nameof(Isas))]
    public void All_transposes_and_odd_sizes_match_float64(string kernel)
    {
        var isa = Enum.Parse<GemmIsa>(kernel);
        var rng = new Rng(7);
        foreach (var (m, n, k) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (int threads in new[] { 1, 2 })
                        Check(rng, isa, threads, ta, tb, m, n, k, alpha: 1f, beta: 0f);
    }

    [Theory, MemberData(nameof(Isas))]
    public void Alpha_and_beta_scale_and_accumulate(string kernel)
    {
        var isa = Enum.Parse<GemmIsa>(kernel);
        var rng = new Rng(8);
        foreach (var (m, n, k) in new[] { (37, 45, 70), (3, 50, 40), (50, 3, 40) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Check(rng, isa, 2, ta, tb, m, n, k, alpha: 0.75f, beta: -1.5f);
                    Check(rng, isa, 2, ta, tb, m, n, k, alpha: 1f, beta: 1f);
                    Check(rng, isa, 2, ta, tb, m, n, k, alpha: -2f, beta: 0f);
                }
    }

    [Theory, MemberData(nameof(Isas))]
    public void Beta_zero_ignores_nan_in_c(string kernel)
    {
        var isa = Enum.Parse<GemmIsa>(kernel);
        var rng = new Rng(9);
        foreach (var (m, n, k) in new[] { (40, 70, 30), (2, 70, 30), (40, 3, 30) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(rng, isa, 1, ta, tb, m, n, k, alpha: 1f, beta: 0f, cFill: float.NaN);
    }

    [Theory, MemberData(nameof(Isas))]
    public void Offsets_and_padded_strides_leave_the_padding_alone(string kernel)
    {
        var isa = Enum.Parse<GemmIsa>(kernel);
        var rng = new Rng(10);
        foreach (var (m, n, k) in new[] { (29, 41, 35), (5, 41, 35), (41, 6, 35) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(rng, isa, 2, ta, tb, m, n, k, alpha: 1.25f, beta: 0.5f, pad: 5, off: 11);
    }

    [Fact]
    public void Zero_k_or_zero_alpha_only_scale_c()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        CpuGemm.Sgemm(false, false, 2, 2, 0, 1f, [], 0, 0, [], 0, 2, 3f, c, 0, 2);
        Assert.Equal(new[] { 3f, 6f, 9f, 12f }, c);
        var a = new[] { float.NaN, 1f, 1f, 1f };
        CpuGemm.Sgemm(false, false, 2, 2, 2, 0f, a, 0, 2, a, 0, 2, 0f, c, 0, 2);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f }, c);
    }

    [Fact]
    public void Operands_that_do_not_fit_their_arrays_are_rejected()
    {
        var x = new float[20];
        var ex = Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, false, 4, 4, 5, 1f, x, 1, 5, x, 0, 4, 0f, x, 0, 4));
        Assert.Contains("operand A", ex.Message);
        Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, true, 2, 2, 3, 1f, x, 0, 3, x, 0, 2, 0f, x, 0, 2));
        Assert.Throws<ArgumentException>(() => CpuGemm.Sgemm(false, false, 2, 2, 2, 1f, x, 0, 2, x, 0, 2, 0f, x, -1, 2));
    }

    /// <summary>Same bits run to run, with 1 or 2 threads, and wherever a row falls in the tiling (shifting A by one
    /// row moves every row of C across the MR tile edges of the blocked path and the chunk edges of the small path).</summary>
    [Theory, MemberData(nameof(Isas))]
    public void Results_are_bit_identical_across_runs_threads_and_tile_positions(string kernel)
    {
        var isa = Enum.Parse<GemmIsa>(kernel);
        var rng = new Rng(11);
        // 100×75 runs the blocked path, 3×3000 and 3000×3 the small-shape dot and axpy loops; all are above the
        // 2·10⁶ m·n·k below which Sgemm stays on one thread.
        foreach (var (m, n, k) in new[] { (100, 75, 300), (3, 3000, 300), (3000, 3, 300) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    var a = Random(rng, (m + 1) * k);
                    var b = Random(rng, k * n);
                    float[] Run(int threads, int firstRow, int rows)
                    {
                        var c = new float[rows * n];
                        // Row r of op(A) starts at r·k (not transposed) or at column r (transposed, lda = m + 1).
                        CpuGemm.Sgemm(ta, tb, rows, n, k, 1f, a, firstRow * (ta ? 1 : k), ta ? m + 1 : k,
                                      b, 0, tb ? k : n, 0f, c, 0, n, isa, threads);
                        return c;
                    }
                    var reference = Run(1, 0, m + 1);
                    Assert.Equal(reference, Run(1, 0, m + 1));
                    Assert.Equal(reference, Run(2, 0, m + 1));
                    Assert.Equal(reference.AsSpan(n).ToArray(), Run(2, 1, m));
                }
    }

    private static void Check(Rng rng, GemmIsa isa, int threads, bool ta, bool tb, int m, int n, int k,
                              float alpha, float beta, float cFill = 0f, int pad = 0, int off = 0)
    {
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        var a = Random(rng, off + aRows * lda);
        var b = Random(rng, off + bRows * ldb);
        var c = Random(rng, off + m * ldc + pad);
        if (cFill != 0f || float.IsNaN(cFill)) Array.Fill(c, cFill);
        var before = (float[])c.Clone();

        CpuGemm.Sgemm(ta, tb, m, n, k, alpha, a, off, lda, b, off, ldb, beta, c, off, ldc, isa, threads);

        double u = Math.Pow(2, -24);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double prod = (double)a[off + (ta ? p * lda + i : i * lda + p)] * b[off + (tb ? j * ldb + p : p * ldb + j)];
                    sum += prod;
                    abs += Math.Abs(prod);
                }
                double cOld = before[off + i * ldc + j];
                double expected = alpha * sum + (beta == 0f ? 0 : beta * cOld);
                double tol = 2 * (k + 3) * u * (Math.Abs(alpha) * abs + (beta == 0f ? 0 : Math.Abs(beta * cOld)));
                double got = c[off + i * ldc + j];
                if (!(Math.Abs(got - expected) <= tol))
                    Assert.Fail($"{isa} threads={threads} {(ta ? "T" : "N")}{(tb ? "T" : "N")} m={m} n={n} k={k} alpha={alpha} " +
                                $"beta={beta}: C[{i},{j}] = {got}, expected {expected} ± {tol}");
            }
        // Nothing outside op(C) may change: the offset prefix and each row's padding.
        for (int x = 0; x < c.Length; x++)
        {
            int rel = x - off;
            bool inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
            if (!inside && BitConverter.SingleToInt32Bits(c[x]) != BitConverter.SingleToInt32Bits(before[x]))
                Assert.Fail($"{isa} m={m} n={n} k={k}: element {x} outside C changed from {before[x]} to {c[x]}");
        }
    }

    private static float[] Random(Rng rng, int count)
    {
        var x = new float[count];
        rng.FillUniform(x, -1, 1);
        return x;
    }
}
