using ILGPU;

namespace Engine.Kernels;

/// <summary>RMSNorm over the last dimension: one thread group per row, fp32 sums reduced across the group.</summary>
internal static class RmsNormKernels
{
    /// <summary>rstd[r] = 1/sqrt(mean(x²) + eps); y = (x·rstd)·w, the CPU backend's order of products.</summary>
    [GpuKernel]
    public static void Forward<X, W, Y>(ArrayView<byte> x, ArrayView<byte> w, ArrayView<byte> y, ArrayView<float> rstd,
                                        int rows, int dim, float eps)
        where X : struct, IElement where W : struct, IElement where Y : struct, IElement
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long row = (long)r * dim;
            float ss = 0f;
            for (int c = Group.IdxX; c < dim; c += Group.DimX)
            {
                float v = default(X).Load(x, row + c);
                ss += v * v;
            }
            ss = BlockReduce.Sum(ss, scratch);
            float inv = 1f / MathF.Sqrt(ss / dim + eps);
            if (Group.IdxX == 0) rstd[r] = inv;
            for (int c = Group.IdxX; c < dim; c += Group.DimX)
                default(Y).Store(y, row + c, default(X).Load(x, row + c) * inv * default(W).Load(w, c));
        }
    }

    /// <summary>dx = rstd·(g·w − x·c) with c = Σ(g·w·x)·rstd²/dim.</summary>
    [GpuKernel]
    public static void Backward<G, X, W, DX>(ArrayView<byte> dy, ArrayView<byte> x, ArrayView<byte> w, ArrayView<float> rstd,
                                             ArrayView<byte> dx, int rows, int dim)
        where G : struct, IElement where X : struct, IElement where W : struct, IElement where DX : struct, IElement
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long row = (long)r * dim;
            float dot = 0f;
            for (int c = Group.IdxX; c < dim; c += Group.DimX)
                dot += default(G).Load(dy, row + c) * default(W).Load(w, c) * default(X).Load(x, row + c);
            dot = BlockReduce.Sum(dot, scratch);
            float inv = rstd[r];
            float k = dot * inv * inv / dim;
            for (int c = Group.IdxX; c < dim; c += Group.DimX)
            {
                float gw = default(G).Load(dy, row + c) * default(W).Load(w, c);
                default(DX).Store(dx, row + c, (default(X).Load(x, row + c) * -k + gw) * inv);
            }
        }
    }

    /// <summary>First pass of dw: partial[k, c] = Σ over rows of chunk k of g[r, c]·x[r, c]·rstd[r]. One thread per
    /// (chunk, column), so a tall activation keeps every SM busy; adjacent threads read adjacent columns (coalesced).</summary>
    [GpuKernel]
    public static void WeightGradPartial<G, X>(ArrayView<byte> dy, ArrayView<byte> x, ArrayView<float> rstd, ArrayView<float> partial,
                                               int rows, int dim, int rowsPerChunk)
        where G : struct, IElement where X : struct, IElement
    {
        int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        long total = (long)chunks * dim;
        for (long i = GridLoop.Start; i < total; i += GridLoop.Stride)
        {
            int k = (int)(i / dim), c = (int)(i % dim);
            int r0 = k * rowsPerChunk, r1 = Math.Min(rows, r0 + rowsPerChunk);
            float acc = 0f;
            for (int r = r0; r < r1; r++)
            {
                long j = (long)r * dim + c;
                acc += default(G).Load(dy, j) * default(X).Load(x, j) * rstd[r];
            }
            partial[i] = acc;
        }
    }

    /// <summary>Second pass of dw: dw[c] += Σ_k partial[k, c], in a fixed order (deterministic).</summary>
    [GpuKernel]
    public static void WeightGradReduce<DW>(ArrayView<float> partial, ArrayView<byte> dw, int chunks, int dim)
        where DW : struct, IElement
    {
        for (long c = GridLoop.Start; c < dim; c += GridLoop.Stride)
        {
            float acc = 0f;
            for (int k = 0; k < chunks; k++) acc += partial[(long)k * dim + c];
            default(DW).Store(dw, c, default(DW).Load(dw, c) + acc);
        }
    }
}
