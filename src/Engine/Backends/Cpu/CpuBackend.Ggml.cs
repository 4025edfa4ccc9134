using System.Buffers;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Forward products with at most this many rows run as quantized GEMVs (decode, short prompts); more rows
    /// dequantize W into fp32 tiles for the SGEMM, which reuses each tile across all rows.</summary>
    internal static int GgmlGemvMaxRows { get; set; } = 8;

    /// <summary>Weight elements dequantized at a time by the tiled path (1 MiB of fp32), as for NF4.</summary>
    internal static int GgmlTileElements { get; set; } = 1 << 18;

    public bool SupportsGgmlWeights => true;

    public void GgmlMatMul(Tensor a, GgmlWeight w, bool transW, Tensor c)
    {
        int inF = transW ? w.Cols : w.Rows, outF = transW ? w.Rows : w.Cols;
        if (a.DType != DType.F32 || c.DType != DType.F32)
            throw new ArgumentException($"ggml matmul: the CPU computes in fp32; got {a} and {c}");
        if (a.Shape.Last != inF || c.Shape.Last != outF || a.Shape.Rows != c.Shape.Rows)
            throw new ArgumentException($"ggml matmul: {a.Shape} · {w.Name} {w.Rows}×{w.Cols}{(transW ? "ᵀ" : "")} does not give {c.Shape}");
        int m = (int)a.Shape.Rows;
        if (m == 0) return;
        if (transW && m <= GgmlGemvMaxRows) GgmlGemv(a, w, c, m);
        else GgmlTiled(a, w, transW, c, m);
    }

    /// <summary>c[i, j] = W[j] · a[i] with a's rows encoded once in the weight's activation format; parallel over W's
    /// rows, each thread streaming its rows once for all of a's rows.</summary>
    private static void GgmlGemv(Tensor a, GgmlWeight w, Tensor c, int m)
    {
        int k = w.Cols, n = w.Rows;
        int xb = GgmlDot.ActivationBytes(w.Type, k);
        var xq = ArrayPool<byte>.Shared.Rent(m * xb);
        try
        {
            var (aa, ao) = Raw(a);
            for (int i = 0; i < m; i++)
                GgmlDot.QuantizeActivations(w.Type, aa.AsSpan(ao + i * k, k), xq.AsSpan(i * xb, xb));
            var (ca, co) = Raw(c);
            CpuParallel.For(n, (long)m * k * 2, (j0, j1) =>
            {
                // A row order that maps this range onto a contiguous range of stored rows (a rope layout within heads,
                // a range of whole heads) runs as one DotRows over the stored rows, its results scattered into place:
                // the kernels' passes over several rows and their per-call setup are kept.
                int count = j1 - j0, first = -1;
                float[]? stored = null;
                if (w.RowOrder is { } order)
                {
                    int lo = int.MaxValue, hi = -1;
                    for (int j = j0; j < j1; j++) { lo = Math.Min(lo, order[j]); hi = Math.Max(hi, order[j]); }
                    if (hi - lo + 1 == count) { first = lo; stored = ArrayPool<float>.Shared.Rent(count); }
                }
                try
                {
                    for (int i = 0; i < m; i++)
                    {
                        var x = xq.AsSpan(i * xb, xb);
                        var dst = ca.AsSpan(co + i * n + j0, count);
                        if (w.RowOrder is null) GgmlDot.DotRows(w.Type, w.StoredRows(j0, count), count, x, k, dst);
                        else if (stored != null)
                        {
                            GgmlDot.DotRows(w.Type, w.StoredRows(first, count), count, x, k, stored.AsSpan(0, count));
                            for (int j = j0; j < j1; j++) dst[j - j0] = stored[w.RowOrder[j] - first];
                        }
                        else
                            for (int j = j0; j < j1; j++) GgmlDot.DotRows(w.Type, w.Row(j), 1, x, k, dst.Slice(j - j0, 1));
                    }
                }
                finally
                {
                    if (stored != null) ArrayPool<float>.Shared.Return(stored);
                }
            });
        }
        finally { ArrayPool<byte>.Shared.Return(xq); }
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
