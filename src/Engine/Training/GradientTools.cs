using Engine.Backends;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>Global gradient norm and the clipping factor, as torch.nn.utils.clip_grad_norm_ computes them.</summary>
internal static class GradientTools
{
    public static double GlobalNorm(IEnumerable<Tensor> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
            if (p.Grad is not null) sum += Backend.Of(p.Grad).SumSquares(p.Grad);
        return Math.Sqrt(sum);
    }

    /// <summary>min(1, maxNorm / (norm + 1e-6)); 1 when clipping is off (maxNorm ≤ 0).</summary>
    public static float ClipScale(double norm, double maxNorm) =>
        maxNorm > 0 ? (float)Math.Min(1.0, maxNorm / (norm + 1e-6)) : 1f;
}
