using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Forward products with at most this many rows run on the quantized blocks whatever the weight type
    /// (decode, short prompts); more rows take <see cref="UsesBlockGemm"/>'s choice.</summary>
    internal static int GgmlGemvMaxRows { get; set; } = 8;

    /// <summary>For reference runs (benchmarks comparing against the file's exact math): every product on block weights,
    /// decode's single rows included, dequantizes W tile by tile into the SGEMM with the fp32 activations, never rounding
    /// them to 8 bits. The weights stay packed, so a 7B reference fits where its fp32 copy would not; it is slow. Per
    /// thread (the thread that calls the product decides its path), so a test setting it does not reach others.</summary>
    internal static bool GgmlFloatProducts { get => _ggmlFloatProducts; set => _ggmlFloatProducts = value; }

    [ThreadStatic] private static bool _ggmlFloatProducts;

    /// <summary>The path of a forward product of <paramref name="m"/> rows of <paramref name="k"/> values on
    /// <paramref name="type"/>: the integer block GEMM up to <see cref="BlockGemmMaxRows"/> rows, dequantized tiles into
    /// the SGEMM beyond, and also where the q4_0/q5_0 kernels would run more than an eighth of each row's blocks
    /// through their tail (blocks past the last group of 16: all of a 288-wide row, a third of a 768-wide one), which
    /// is not register-blocked: scalar until 2026-12-06, 6–10× slower than the SGEMM on stories15M's 128-token prompt;
    /// vectorized since, still 0.3–0.4× the SGEMM on those shapes (`ggml-gemm 128 768 288`, bench/RESULTS.md).</summary>
    internal static bool UsesBlockGemm(GgmlType type, int m, int k)
    {
        if (m > BlockGemmMaxRows(type)) return false;
        int blocks = k / GgmlTypes.QK;
        return !LegacyDot.HasTile(type) || blocks % 16 * 8 <= blocks;
    }

    /// <summary>The most rows for which the integer block GEMM measured faster than dequantized tiles + SGEMM on this
    /// project's AVX-512 machine (`ggml-gemm`, 2048×2048 weights, one thread, m = 16…256; bench/RESULTS.md): its
    /// kernels run at a fixed 20–120 GFLOP/s per thread by type (q4_0 and q5_0 fastest, on the register-blocked tile of
    /// <see cref="LegacyDot.DotTile"/>), while the SGEMM reaches 110–135 once m is large enough to pay for dequantizing W. f32/f16/bf16 keep the GEMV for <see cref="GgmlGemvMaxRows"/> rows at most.</summary>
    internal static int BlockGemmMaxRows(GgmlType type) => type switch
    {
        GgmlType.Q3_K => 256,
        GgmlType.Q4_0 => LegacyDot.HasTile(type) ? 256 : 128,
        GgmlType.Q2_K => 192,
        GgmlType.Q5_0 => LegacyDot.HasTile(type) ? 128 : 64,
        GgmlType.Q4_K => 128,
        GgmlType.Q4_1 or GgmlType.Q5_K => 64,
        GgmlType.Q6_K => 32,
        GgmlType.Q8_0 => 24,
        GgmlType.Q5_1 => 16,
        _ => GgmlGemvMaxRows,
    };

    /// <summary>Weight elements dequantized at a time by the tiled path (1 MiB of fp32), as for NF4.</summary>
    internal static int GgmlTileElements { get; set; } = 1 << 18;

    public bool SupportsGgmlWeights => true;

    public void GgmlMatMul(Tensor a, GgmlWeight w, bool transW, Tensor c) => GgmlMatMul(a, w, transW, c, blockGemm: null);

    /// <summary><see cref="GgmlMatMul(Tensor, GgmlWeight, bool, Tensor)"/> with the path of a many-row forward product
    /// chosen (<paramref name="blockGemm"/>: the integer block GEMM, else dequantized tiles into the SGEMM; null:
    /// <see cref="UsesBlockGemm"/>'s choice), so tests and benchmarks reach both.</summary>
    internal void GgmlMatMul(Tensor a, GgmlWeight w, bool transW, Tensor c, bool? blockGemm)
    {
        int inF = transW ? w.Cols : w.Rows, outF = transW ? w.Rows : w.Cols;
        if (a.DType != DType.F32 || c.DType != DType.F32)
            throw new ArgumentException($"ggml matmul: the CPU computes in fp32; got {a} and {c}");
        if (a.Shape.Last != inF || c.Shape.Last != outF || a.Shape.Rows != c.Shape.Rows)
            throw new ArgumentException($"ggml matmul: {a.Shape} · {w.Name} {w.Rows}×{w.Cols}{(transW ? "ᵀ" : "")} does not give {c.Shape}");
        int m = (int)a.Shape.Rows;
        if (m == 0) return;
        if (transW && !GgmlFloatProducts && (m <= GgmlGemvMaxRows || (blockGemm ?? UsesBlockGemm(w.Type, m, w.Cols)))) GgmlBlockGemm(a, w, c, m);
        else GgmlTiled(a, w, transW, c, m);
    }

    /// <summary>Works through W in tiles of whole rows: each tile is dequantized into one fp32 scratch buffer and
    /// multiplied in by the SGEMM (forward: c[:, tile] = a·tileᵀ; backward: c += a[:, tile]·tile), so at most
    /// <see cref="GgmlTileElements"/> weights exist in fp32 at once.</summary>
    private void GgmlTiled(Tensor a, GgmlWeight w, bool transW, Tensor c, int m)
    {
        int k = w.Cols;
        int tileRows = (int)Math.Clamp(GgmlTileElements / k, 1, w.Rows);
        var scratchTensor = new Tensor(Allocate(DType.F32, (long)tileRows * k, zero: false), new Shape(tileRows, k), track: false);
        try
        {
            var (scratch, so) = Raw(scratchTensor);
            var (aa, ao) = Raw(a);
            var (ca, co) = Raw(c);
            for (int r0 = 0; r0 < w.Rows; r0 += tileRows)
            {
                int rows = Math.Min(tileRows, w.Rows - r0);
                DequantizeTile(w, r0, rows, scratch.AsSpan(so, rows * k));
                if (transW) CpuGemm.Sgemm(false, true, m, rows, k, 1f, aa, ao, k, scratch, so, k, 0f, ca, co + r0, w.Rows);
                else CpuGemm.Sgemm(false, false, m, k, rows, 1f, aa, ao + r0, w.Rows, scratch, so, k, r0 == 0 ? 0f : 1f, ca, co, k);
            }
        }
        finally { scratchTensor.Dispose(); }
    }

    /// <summary>Rows [r0, r0 + rows) of W in fp32, dequantized in parallel by rows.</summary>
    private static void DequantizeTile(GgmlWeight w, int r0, int rows, Span<float> dst)
    {
        int k = w.Cols;
        unsafe
        {
            fixed (float* p = dst)
            {
                nint dp = (nint)p;
                CpuParallel.For(rows, (long)k * 4, (i0, i1) =>
                    w.DequantizeRows(r0 + i0, i1 - i0, new Span<float>((float*)dp + (long)i0 * k, (i1 - i0) * k)));
            }
        }
    }

    public void GgmlEmbedding(GgmlWeight w, Tensor ids, Tensor y)
    {
        int d = w.Cols;
        var id = ids.I32();
        var ys = y.F32();
        if (ys.Length != (long)id.Length * d) throw new ArgumentException($"embedding output {y.Shape} should be [{id.Length}, {d}]");
        for (int n = 0; n < id.Length; n++)
        {
            int t = id[n];
            if ((uint)t >= (uint)w.Rows) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {t} is outside the vocabulary of {w.Rows}");
            w.DequantizeRows(t, 1, ys.Slice(n * d, d));
        }
    }
}
