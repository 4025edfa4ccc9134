using ILGPU;

namespace Engine.Kernels;

/// <summary>Row gather and its scatter-add backward. Out-of-range ids write zeros and raise
/// <see cref="KernelErrors.TokenIdOutOfRange"/>.</summary>
internal static class EmbeddingKernels
{
    /// <summary>y[r, c] = weight[ids[r], c]; one thread per output element.</summary>
    [GpuKernel]
    public static void Forward<W, Y>(ArrayView<byte> weight, ArrayView<int> ids, ArrayView<byte> y,
                                     long rows, int dim, int vocab, ArrayView<int> errors)
        where W : struct, IElement where Y : struct, IElement
    {
        long n = rows * dim;
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            long r = i / dim;
            long c = i - r * dim;
            int t = ids[r];
            if ((uint)t >= (uint)vocab)
            {
                Atomic.Or(ref errors[0], KernelErrors.TokenIdOutOfRange);
                default(Y).Store(y, i, 0f);
            }
            else default(Y).Store(y, i, default(W).Load(weight, (long)t * dim + c));
        }
    }

    /// <summary>dWeight[ids[r], c] += dy[r, c] with fp32 atomics (repeated ids collide). Performance and determinism
    /// work due: sort ids and reduce runs instead of atomics.</summary>
    [GpuKernel]
    public static void Backward<G>(ArrayView<byte> dy, ArrayView<int> ids, ArrayView<float> dWeight,
                                   long rows, int dim, int vocab, ArrayView<int> errors)
        where G : struct, IElement
    {
        long n = rows * dim;
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            long r = i / dim;
            long c = i - r * dim;
            int t = ids[r];
            if ((uint)t >= (uint)vocab) Atomic.Or(ref errors[0], KernelErrors.TokenIdOutOfRange);
            else Atomic.Add(ref dWeight[(long)t * dim + c], default(G).Load(dy, i));
        }
    }
}
