using ILGPU;

namespace Engine.Kernels;

/// <summary>Cross-entropy over logits [N, V]: one thread group per row walks the vocabulary in strided chunks
/// (a max pass, then a sum-of-exponentials pass), so no fp32 copy of the logits is ever made.</summary>
internal static class CrossEntropyKernels
{
    /// <summary>lse[r] = log Σ exp(logits[r]); rowLoss[r] = lse − logits[r, target] (0 for ignored rows). Targets outside
    /// the vocabulary count 0 and raise <see cref="KernelErrors.TargetOutOfRange"/>.</summary>
    [GpuKernel]
    public static void RowStats<X>(ArrayView<byte> logits, ArrayView<int> targets, ArrayView<float> lse, ArrayView<float> rowLoss,
                                   int rows, int vocab, int ignoreIndex, ArrayView<int> errors)
        where X : struct, IElement
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long row = (long)r * vocab;
            float max = float.NegativeInfinity;
            for (int c = Group.IdxX; c < vocab; c += Group.DimX) max = MathF.Max(max, default(X).Load(logits, row + c));
            max = BlockReduce.Max(max, scratch);
            float sum = 0f;
            for (int c = Group.IdxX; c < vocab; c += Group.DimX) sum += MathF.Exp(default(X).Load(logits, row + c) - max);
            sum = BlockReduce.Sum(sum, scratch);
            if (Group.IdxX == 0)
            {
                float l = max + MathF.Log(sum);
                lse[r] = l;
                int t = targets[r];
                if (t == ignoreIndex) rowLoss[r] = 0f;
                else if ((uint)t >= (uint)vocab)
                {
                    Atomic.Or(ref errors[0], KernelErrors.TargetOutOfRange);
                    rowLoss[r] = 0f;
                }
                else rowLoss[r] = l - default(X).Load(logits, row + t);
            }
        }
    }

    /// <summary>dLogits = gradScale·(exp(logits − lse) − onehot(target)), 0 on ignored rows; one thread per element.</summary>
    [GpuKernel]
    public static void Backward<X, S, D>(ArrayView<byte> logits, ArrayView<int> targets, ArrayView<float> lse,
                                         ArrayView<byte> gradScale, ArrayView<byte> dLogits, long rows, int vocab, int ignoreIndex)
        where X : struct, IElement where S : struct, IElement where D : struct, IElement
    {
        float g = default(S).Load(gradScale, 0);
        long n = rows * vocab;
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            long r = i / vocab;
            int c = (int)(i - r * vocab);
            int t = targets[r];
            if (t == ignoreIndex) { default(D).Store(dLogits, i, 0f); continue; }
            float p = MathF.Exp(default(X).Load(logits, i) - lse[r]);
            default(D).Store(dLogits, i, (c == t ? p - 1f : p) * g);
        }
    }
}
