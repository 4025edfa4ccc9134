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
    /// <summary>1 − lr·weightDecay of this tensor.</summary>
    public float Decay;
}

internal static class AdamWKernels
{
    /// <summary>torch.optim.AdamW (non-amsgrad): p·(1 − lr·wd), moments updated in fp32, then
    /// p −= stepSize·m / (sqrt(v)/sqrt(bc2) + eps). One launch per tensor: ILGPU kernels cannot take a table of
    /// device pointers, and tensors live in separate allocations, so a single launch over all tensors would need either
    /// inline PTX loads from raw addresses or parameters allocated in one arena (performance work due).</summary>
    [GpuKernel]
    public static void Step<P, G>(ArrayView<byte> param, ArrayView<byte> grad, ArrayView<float> m, ArrayView<float> v,
                                  long n, AdamWScalars s)
        where P : struct, IElement where G : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            float g = default(G).Load(grad, i) * s.GradScale;
            float p = default(P).Load(param, i) * s.Decay;
            float mi = s.Beta1 * m[i] + (1f - s.Beta1) * g;
            float vi = s.Beta2 * v[i] + (1f - s.Beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            default(P).Store(param, i, p - s.StepSize * mi / (MathF.Sqrt(vi) / s.Bc2Sqrt + s.Eps));
        }
    }
}
