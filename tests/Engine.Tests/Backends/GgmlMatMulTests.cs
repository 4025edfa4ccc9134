using Engine.Autograd;
using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Backends;

/// <summary><see cref="CpuBackend.GgmlMatMul"/> and <see cref="CpuBackend.GgmlEmbedding"/> on packed ggml block weights
/// against a float64 product with the dequantized weight (<see cref="GgmlBlocks.Dequantize"/>, itself checked byte for
/// byte against ggml elsewhere).
/// Tolerances. The tiled path (forward products of more than <see cref="CpuBackend.BlockGemmMaxRows"/> rows, and every
/// backward) is an fp32 SGEMM on the exact dequantized weight: within 2·(K + 3)·u·Σ|w·x| (u = 2⁻²⁴, see CpuGemmTests).
/// The GEMV and block GEMM path first rounds x to 8-bit codes per activation block (32 values for the legacy types, 256 for the k-quants) with step
/// δ = amax/127 and an fp16 (or fp32) scale: each x moves by at most δ/2 + amax·2⁻¹¹ (the scale's own rounding), so
/// |y − y_ref| ≤ Σ_i |w_i|·(amax_b(i)/254 + amax_b(i)/2048) + 2·(K + 3)·u·Σ|w·x|. A wrong block, row or scale is
/// far outside these bounds (the weights are O(1) and K ≥ 256).</summary>
public class GgmlMatMulTests
{
    private static readonly GgmlType[] Types =
        [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static TheoryData<string> TypeNames()
    {
        var d = new TheoryData<string>();
        foreach (var t in Types) d.Add(t.Name());
        return d;
    }

    private static GgmlType Parse(string name) => GgmlTypes.TryParse(name, out var t) ? t : throw new ArgumentException(name);

    private static (GgmlWeight W, float[] Dense) RandomWeight(GgmlType type, int rows, int cols, ulong seed, bool permuted)
    {
        var rng = new Rng(seed);
        var f = new float[rows * cols];
        rng.FillNormal(f, 0, 1);
        var bytes = new byte[type.RowSize(f.Length)];
        GgmlBlocks.Quantize(type, f, bytes, cols);
        var stored = new float[f.Length];
        GgmlBlocks.Dequantize(type, bytes, stored);
        int[]? order = null;
        if (permuted)
        {
            order = Enumerable.Range(0, rows).ToArray();
            rng.Shuffle(order);
        }
        var dense = new float[f.Length];
        for (int r = 0; r < rows; r++) stored.AsSpan((order?[r] ?? r) * cols, cols).CopyTo(dense.AsSpan(r * cols, cols));
        return (GgmlWeight.FromBytes("test.weight", type, rows, cols, bytes, order), dense);
    }

    private static float[] RandomRows(int m, int k, ulong seed)
    {
        var x = new float[m * k];
        new Rng(seed).FillUniform(x, -2, 2);
        return x;
    }

    private const double U = 1.0 / (1 << 24);

    /// <summary>y = x·Wᵀ on the CPU backend for m rows of x (many rows: <paramref name="blockGemm"/> picks the integer
    /// block GEMM or the dequantized tiles).</summary>
    private static float[] Forward(GgmlWeight w, float[] x, int m, bool blockGemm = true)
    {
        var be = CpuBackend.Instance;
        using var scope = new TensorScope();
        var c = be.Empty(new Shape(m, w.Rows), DType.F32);
        be.GgmlMatMul(be.FromFloats(x, new Shape(m, w.Cols), DType.F32), w, transW: true, c, blockGemm);
        var y = new float[m * w.Rows];
        be.ToFloats(c, y);
        return y;
    }

    /// <summary>y = x·Wᵀ (forward) checked element by element; <paramref name="quantizedX"/> adds the activation
    /// rounding bound of the GEMV path.</summary>
    private static void CheckForward(float[] x, float[] dense, float[] y, int m, int n, int k, int activationBlock, bool quantizedX)
    {
        for (int i = 0; i < m; i++)
        {
            var amax = new double[k / activationBlock];
            for (int b = 0; b < amax.Length; b++)
                for (int p = 0; p < activationBlock; p++) amax[b] = Math.Max(amax[b], Math.Abs(x[i * k + b * activationBlock + p]));
            for (int j = 0; j < n; j++)
            {
                double exact = 0, abs = 0, xBound = 0;
                for (int p = 0; p < k; p++)
                {
                    double w = dense[j * k + p], v = x[i * k + p];
                    exact += w * v;
                    abs += Math.Abs(w * v);
                    xBound += Math.Abs(w) * amax[p / activationBlock] * (1.0 / 254 + 1.0 / 2048);
                }
                double tol = 2 * (k + 3) * U * abs + (quantizedX ? xBound : 0);
                Assert.True(Math.Abs(y[i * n + j] - exact) <= tol,
                    $"y[{i},{j}] = {y[i * n + j]}, float64 {exact}, |Δ| {Math.Abs(y[i * n + j] - exact):g3} > {tol:g3}");
            }
        }
    }

    [Theory, MemberData(nameof(TypeNames))]
    public void Forward_of_few_rows_is_the_quantized_gemv_within_the_activation_rounding_bound(string typeName)
    {
        var type = Parse(typeName);
        var be = CpuBackend.Instance;
        int k = type.IsKQuant() ? 512 : 288, n = 67;
        foreach (bool permuted in new[] { false, true })
            foreach (int m in new[] { 1, 3, CpuBackend.GgmlGemvMaxRows })
            {
                var (w, dense) = RandomWeight(type, n, k, (ulong)(m * 10 + (permuted ? 1 : 0)), permuted);
                using var _ = w;
                var x = RandomRows(m, k, 99);
                CheckForward(x, dense, Forward(w, x, m), m, n, k, type.IsKQuant() ? 256 : 32, quantizedX: true);
            }
    }

    /// <summary><see cref="CpuBackend.GgmlFloatProducts"/> (the benchmarks' fp32 reference) makes even a single-row
    /// product the SGEMM's on the dequantized weight, within fp32 rounding of the float64 product, where the default
    /// path's 8-bit activations are off by far more; and it is the calling thread's alone.</summary>
    [Theory]
    [InlineData("q4_0")]
    [InlineData("q6_K")]
    public void Float_products_switch_keeps_single_rows_in_fp32(string typeName)
    {
        var type = Parse(typeName);
        int k = 512, n = 37;
        var (w, dense) = RandomWeight(type, n, k, 5, permuted: false);
        using var _ = w;
        var x = RandomRows(1, k, 13);
        var quantized = Forward(w, x, 1);
        float[] exact;
        try
        {
            CpuBackend.GgmlFloatProducts = true;
            exact = Forward(w, x, 1);
            bool elsewhere = true;
            var other = new Thread(() => elsewhere = CpuBackend.GgmlFloatProducts);
            other.Start();
            other.Join();
            Assert.False(elsewhere, "the switch reached another thread");
        }
        finally
        {
            CpuBackend.GgmlFloatProducts = false;
        }
        CheckForward(x, dense, exact, 1, n, k, 32, quantizedX: false);
        double worst = 0;
        for (int j = 0; j < n; j++) worst = Math.Max(worst, Math.Abs(quantized[j] - exact[j]));
        Assert.True(worst > 1e-4, $"the default single-row path should round the activations to 8 bits; it matched the fp32 product to {worst:g3}");
    }

    /// <summary>A row order that maps every range of output rows onto a contiguous range of stored rows (here reversed)
    /// runs each thread's range as one DotRows over the stored rows, scattered into place: the same values, bit for bit,
    /// as the weight without the order read back to front.</summary>
    [Theory, MemberData(nameof(TypeNames))]
    public void A_row_order_of_contiguous_ranges_gives_the_stored_rows_results(string typeName)
    {
        var type = Parse(typeName);
        var be = CpuBackend.Instance;
        int k = type.IsKQuant() ? 512 : 288, n = 131;
        var (w, _) = RandomWeight(type, n, k, 41, permuted: false);
        using var _w = w;
        using var reversed = GgmlWeight.FromBytes("test.reversed", type, n, k, w.StoredRows(0, n), Enumerable.Range(0, n).Reverse().ToArray());
        foreach (int m in new[] { 1, 3 })
        {
            var x = RandomRows(m, k, 7);
            var y = Forward(w, x, m);
            var yr = Forward(reversed, x, m);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    Assert.Equal(y[i * n + n - 1 - j], yr[i * n + j]);
        }
    }

    [Theory, MemberData(nameof(TypeNames))]
    public void Forward_of_many_rows_multiplies_dequantized_tiles_in_fp32(string typeName)
    {
        var type = Parse(typeName);
        var be = CpuBackend.Instance;
        // 2100 rows of 256 values are 3 tiles of 1024 rows (GgmlTileElements = 2^18), the last one partial.
        int k = 256, n = 2100, m = CpuBackend.GgmlGemvMaxRows + 5;
        Assert.True(CpuBackend.GgmlTileElements / k < n, "the weight must span several tiles");
        var (w, dense) = RandomWeight(type, n, k, 5, permuted: true);
        using var _ = w;
        var x = RandomRows(m, k, 6);
        CheckForward(x, dense, Forward(w, x, m, blockGemm: false), m, n, k, 256, quantizedX: false);
    }

    /// <summary>The integer block GEMM (many rows) gives every element exactly as a single-row GEMV does: the activation
    /// row encoded alone (<see cref="GgmlDot.QuantizeActivations"/>) and dotted with the weight's row alone
    /// (<see cref="GgmlDot.DotRows"/>, one row), bit for bit, on odd m and n, a weight spanning several panels of
    /// <see cref="CpuBackend.GgmlPanelBytes"/> (and a thread split), with and without a row order; and within the
    /// activation rounding bound of the float64 product.</summary>
    [Theory, MemberData(nameof(TypeNames))]
    public void Forward_of_many_rows_is_the_block_gemm_equal_to_single_row_gemvs(string typeName)
    {
        var type = Parse(typeName);
        int k = type.IsKQuant() ? 512 : 32 * 37, m = 37; // 37 blocks: two whole groups of 16 for the q4_0/q5_0 tile, and a tail
        int n = (int)(3 * CpuBackend.GgmlPanelBytes / type.RowSize(k)) + 5;
        int xb = GgmlDot.ActivationBytes(type, k);
        var xq = new byte[xb];
        var one = new float[1];
        foreach (bool permuted in new[] { false, true })
        {
            var (w, dense) = RandomWeight(type, n, k, permuted ? 51UL : 52UL, permuted);
            using var _ = w;
            var x = RandomRows(m, k, 53);
            var y = Forward(w, x, m);
            for (int i = 0; i < m; i++)
            {
                GgmlDot.QuantizeActivations(type, x.AsSpan(i * k, k), xq);
                for (int j = 0; j < n; j++)
                {
                    GgmlDot.DotRows(type, w.Row(j), 1, xq, k, one);
                    if (one[0] != y[i * n + j]) Assert.Fail($"{typeName} y[{i},{j}] = {y[i * n + j]:R}, the GEMV gives {one[0]:R}");
                }
            }
            if (!permuted) CheckForward(x, dense, y, m, n, k, type.IsKQuant() ? 256 : 32, quantizedX: true);
        }
    }

    [Theory, MemberData(nameof(TypeNames))]
    public void Backward_gives_the_input_gradient_g_times_w(string typeName)
    {
        var type = Parse(typeName);
        var be = CpuBackend.Instance;
        int k = 256, n = 1100, m = 3; // two tiles
        var (w, dense) = RandomWeight(type, n, k, 11, permuted: true);
        using var _ = w;
        var g = RandomRows(m, n, 12);
        using var scope = new TensorScope();
        var gt = be.FromFloats(g, new Shape(m, n), DType.F32);
        var gx = be.Empty(new Shape(m, k), DType.F32);
        be.Fill(gx, float.NaN); // overwritten, never read
        be.GgmlMatMul(gt, w, transW: false, gx);
        var got = new float[m * k];
        be.ToFloats(gx, got);
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                double exact = 0, abs = 0;
                for (int j = 0; j < n; j++)
                {
                    exact += g[i * n + j] * (double)dense[j * k + p];
                    abs += Math.Abs(g[i * n + j] * (double)dense[j * k + p]);
                }
                double tol = 2 * (n + 3) * U * abs;
                Assert.True(Math.Abs(got[i * k + p] - exact) <= tol, $"gx[{i},{p}] = {got[i * k + p]}, float64 {exact}, tolerance {tol:g3}");
            }
    }

    [Fact]
    public void Ggml_linear_backward_matches_the_dense_linear_on_the_dequantized_weight()
    {
        var be = CpuBackend.Instance;
        var (w, dense) = RandomWeight(GgmlType.Q4_K, 40, 256, 21, permuted: false);
        using var _ = w;
        var xs = RandomRows(12, 256, 22);
        using var scope = new TensorScope();
        var x = be.FromFloats(xs, new Shape(12, 256), DType.F32);
        x.RequiresGrad = true;
        var y = Ops.GgmlLinear(x, w);
        var loss = Ops.Sum(Ops.Mul(y, y));
        loss.Backward();
        var gx = new float[xs.Length];
        be.ToFloats(x.Grad!, gx);
        var yv = new float[12 * 40];
        be.ToFloats(y, yv);
        // d(Σy²)/dx = 2·y·W with y itself from the tiled (exact-weight) path: compare with float64 2·y·W.
        for (int i = 0; i < 12; i++)
            for (int p = 0; p < 256; p++)
            {
                double exact = 0, abs = 0;
                for (int j = 0; j < 40; j++)
                {
                    exact += 2.0 * yv[i * 40 + j] * dense[j * 256 + p];
                    abs += Math.Abs(2.0 * yv[i * 40 + j] * dense[j * 256 + p]);
                }
                Assert.True(Math.Abs(gx[i * 256 + p] - exact) <= 2 * 43 * U * abs + 1e-6, $"gx[{i},{p}] {gx[i * 256 + p]} vs {exact}");
            }
    }

    [Theory, MemberData(nameof(TypeNames))]
    public void Embedding_rows_are_the_dequantized_rows(string typeName)
    {
        var type = Parse(typeName);
        var be = CpuBackend.Instance;
        var (w, dense) = RandomWeight(type, 50, 256, 31, permuted: true);
        using var _ = w;
        int[] ids = [0, 49, 7, 7, 23];
        using var scope = new TensorScope();
        var y = be.Empty(new Shape(ids.Length, 256), DType.F32);
        be.GgmlEmbedding(w, be.FromInts(ids, new Shape(ids.Length)), y);
        var got = new float[ids.Length * 256];
        be.ToFloats(y, got);
        for (int n = 0; n < ids.Length; n++)
            Assert.Equal(dense.AsSpan(ids[n] * 256, 256).ToArray(), got.AsSpan(n * 256, 256).ToArray());
        var bad = be.FromInts([50], new Shape(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => be.GgmlEmbedding(w, bad, be.Empty(new Shape(1, 256), DType.F32)));
    }

    [Fact]
    public void A_weight_refuses_wrong_sizes_and_row_orders_by_name()
    {
        var bytes = new byte[GgmlType.Q4_0.RowSize(64) * 3];
        Assert.Contains("blk.0.attn_q.weight", Assert.Throws<ArgumentException>(() => GgmlWeight.FromBytes("blk.0.attn_q.weight", GgmlType.Q4_0, 4, 64, bytes)).Message);
        Assert.Contains("permutation", Assert.Throws<ArgumentException>(() => GgmlWeight.FromBytes("w", GgmlType.Q4_0, 3, 64, bytes, [0, 0, 2])).Message);
        Assert.ThrowsAny<EngineException>(() => GgmlWeight.FromBytes("w", GgmlType.Q4_0, 3, 48, new byte[GgmlType.Q4_0.TypeSize() * 3]));
    }
}
