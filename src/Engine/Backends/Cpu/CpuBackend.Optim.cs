using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>AdamW exactly as torch.optim.AdamW (non-amsgrad, non-fused): decay the weight by (1 − lr·wd), update
    /// the moments, then p −= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps).</summary>
    public void AdamW(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h)
    {
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step), bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        float stepSize = (float)(h.LearningRate / bc1);
        float bc2Sqrt = (float)Math.Sqrt(bc2);
        float b1 = h.Beta1, b2 = h.Beta2, eps = h.Eps, gs = h.GradScale, lr = h.LearningRate;
        foreach (var s in slots)
        {
            var (pa, po) = Raw(s.Param); var (ga, go) = Raw(s.Grad); var (ma, mo) = Raw(s.M); var (va, vo) = Raw(s.V);
            int n = (int)s.Param.NumElements;
            float decay = 1f - lr * s.WeightDecay;
            CpuParallel.For((n + 4095) / 4096, 4096 * 16, (c0, c1) =>
            {
                for (int i = c0 * 4096; i < Math.Min(n, c1 * 4096); i++)
                {
                    float g = ga[go + i] * gs;
                    float p = pa[po + i] * decay;
                    float m = ma[mo + i] = b1 * ma[mo + i] + (1 - b1) * g;
                    float v = va[vo + i] = b2 * va[vo + i] + (1 - b2) * g * g;
                    pa[po + i] = p - stepSize * m / (MathF.Sqrt(v) / bc2Sqrt + eps);
                }
            });
        }
    }
}
