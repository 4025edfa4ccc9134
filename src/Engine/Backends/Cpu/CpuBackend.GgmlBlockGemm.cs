using System.Buffers;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Weight bytes a thread multiplies with every activation row before moving on (a panel that stays in
    /// the core's L2 while the activation rows stream past it).</summary>
    internal static int GgmlPanelBytes { get; set; } = 128 << 10;

    /// <summary>c[i, j] = W[j] · a[i] in integers, as llama.cpp's CPU backend does: a's rows are encoded once in the
    /// weight's activation format (<see cref="GgmlDot.QuantizeActivations"/>), then each thread takes a range of W's
    /// rows and works through it in panels of about <see cref="GgmlPanelBytes"/>, multiplying each panel with every
    /// activation row (<see cref="GgmlDot.DotTile"/>) while it is in cache, so W is read from memory once for all of a's
    /// rows. Every element comes out of the same per-row block dot as a single GEMV, bit for bit, whatever m, the
    /// thread split or the panel size.</summary>
    private static void GgmlBlockGemm(Tensor a, GgmlWeight w, Tensor c, int m)
    {
        int k = w.Cols, n = w.Rows;
        int xb = GgmlDot.ActivationBytes(w.Type, k);
        var xq = ArrayPool<byte>.Shared.Rent(m * xb);
        try
        {
            var (aa, ao) = Raw(a);
            CpuParallel.For(m, (long)k * 8, (i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                    GgmlDot.QuantizeActivations(w.Type, aa.AsSpan(ao + i * k, k), xq.AsSpan(i * xb, xb));
            });
            var (ca, co) = Raw(c);
            int rowBytes = (int)w.Type.RowSize(k);
            // Panels keep W in L2 while the activation rows pass it two at a time; one or two rows pass it once, so a
            // thread's whole range is one call and the per-call work (activations rearranged and their scales decoded
            // for the q4_0/q5_0 kernels, q8_K decoded for the k-quants) is paid once, not once per 128 KiB of W: per
            // panel it held decode's q4_0 GEMV at 9–12 GB/s against its kernel's 34 (bench/RESULTS.md).
            int panel = m <= 2 ? n : Math.Max(4, GgmlPanelBytes / rowBytes / 4 * 4);
            CpuParallel.For(n, (long)m * k * 2, (j0, j1) =>
            {
                for (int p0 = j0; p0 < j1; p0 += panel)
                    GgmlPanel(w, xq.AsSpan(0, m * xb), m, p0, Math.Min(panel, j1 - p0), ca.AsSpan(co), n);
            });
        }
        finally { ArrayPool<byte>.Shared.Return(xq); }
    }

    /// <summary>c[i, j] for rows j ∈ [j0, j0 + count) of W and every activation row i (c's rows <paramref name="ldc"/>
    /// apart). A row order that maps the panel onto a contiguous range of stored rows (a rope layout within heads, a
    /// range of whole heads) runs as one tile over the stored rows, its results scattered into place; any other order
    /// runs row by row.</summary>
    private static void GgmlPanel(GgmlWeight w, ReadOnlySpan<byte> xq, int m, int j0, int count, Span<float> c, int ldc)
    {
        int k = w.Cols;
        if (w.RowOrder is not { } order)
        {
            GgmlDot.DotTile(w.Type, w.StoredRows(j0, count), count, xq, m, k, c[j0..], ldc);
            return;
        }
        int lo = int.MaxValue, hi = -1;
        for (int j = j0; j < j0 + count; j++) { lo = Math.Min(lo, order[j]); hi = Math.Max(hi, order[j]); }
        if (hi - lo + 1 != count)
        {
            for (int j = j0; j < j0 + count; j++) GgmlDot.DotTile(w.Type, w.Row(j), 1, xq, m, k, c[j..], ldc);
            return;
        }
        var stored = ArrayPool<float>.Shared.Rent(m * count);
        try
        {
            GgmlDot.DotTile(w.Type, w.StoredRows(lo, count), count, xq, m, k, stored, count);
            for (int i = 0; i < m; i++)
                for (int j = j0; j < j0 + count; j++) c[i * ldc + j] = stored[i * count + order[j] - lo];
        }
        finally { ArrayPool<float>.Shared.Return(stored); }
    }
}
