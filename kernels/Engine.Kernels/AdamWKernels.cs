using ILGPU;

namespace Engine.Kernels;

/// <summary>Per-step AdamW constants, computed on the host in double exactly as the CPU backend does.</summary>
internal struct AdamWScalars
{
    /// <summary>lr / (1 − β1^step).</summary>
    public float StepSize;
    /// <summary>sqrt(1 − β2^step).</summary>
    public float Bc2Sqrt;
    public float Beta1;
    public float Beta2;
    public float Eps;
    public float GradScale;
    /// <summary>1 − lr·weightDecay of this tensor (the per-tensor kernel; the multi-tensor one reads each record's).</summary>
    public float Decay;
}

/// <summary>One tensor of a multi-tensor AdamW launch: its views, element count and 1 − lr·weightDecay.</summary>
internal struct AdamWSegment : ISegment
{
    public ArrayView<byte> Param;
    public ArrayView<byte> Grad;
    public ArrayView<float> M;
    public ArrayView<float> V;
    public long N;
    public float Decay;
    public readonly long Length => N;
}

internal static class AdamWKernels
{
    /// <summary>torch.optim.AdamW (non-amsgrad) on one tensor: p·(1 − lr·wd), moments updated in fp32, then
    /// p −= stepSize·m / (sqrt(v)/sqrt(bc2) + eps). Kept beside <see cref="StepMany{P,G}"/> as the reference it is
    /// tested against bit for bit.</summary>
    [GpuKernel]
    public static void Step<P, G>(ArrayView<byte> param, ArrayView<byte> grad, ArrayView<float> m, ArrayView<float> v,
                                  long n, AdamWScalars s)
        where P : struct, IElement where G : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride) Update<P, G>(param, grad, m, v, i, s.Decay, s);
    }

    /// <summary>The same update over up to 32 tensors in one launch (<paramref name="total"/> = their summed length):
    /// the threads stride over the tensors as one flat range, so launch overhead is paid once per 32 tensors and small
    /// tensors (LoRA's A and B) share the grid instead of each leaving most of the GPU idle.</summary>
    [GpuKernel]
    public static void StepMany<P, G>(TensorPack32<AdamWSegment> pack, long total, AdamWScalars s)
        where P : struct, IElement where G : struct, IElement
    {
        var cursor = new PackCursor<AdamWSegment>(pack);
        for (long i = GridLoop.Start; i < total; i += GridLoop.Stride)
        {
            long j = cursor.Seek(i);
            var t = cursor.Current;
            Update<P, G>(t.Param, t.Grad, t.M, t.V, j, t.Decay, s);
        }
    }

    /// <summary>One element of both kernels: one copy of the arithmetic keeps them bit-identical.</summary>
    private static void Update<P, G>(ArrayView<byte> param, ArrayView<byte> grad, ArrayView<float> m, ArrayView<float> v,
                                     long i, float decay, AdamWScalars s)
        where P : struct, IElement where G : struct, IElement
    {
        float g = default(G).Load(grad, i) * s.GradScale;
        float p = default(P).Load(param, i) * decay;
        float mi = s.Beta1 * m[i] + (1f - s.Beta1) * g;
        float vi = s.Beta2 * v[i] + (1f - s.Beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        default(P).Store(param, i, p - s.StepSize * mi / (MathF.Sqrt(vi) / s.Bc2Sqrt + s.Eps));
    }
}
