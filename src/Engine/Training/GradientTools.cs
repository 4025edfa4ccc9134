namespace Engine.Training;

/// <summary>The clipping factor, as torch.nn.utils.clip_grad_norm_ computes it (the global norm itself is taken on the
/// device by <see cref="StepTotals"/>).</summary>
internal static class GradientTools
{
    /// <summary>min(1, maxNorm / (norm + 1e-6)); 1 when clipping is off (maxNorm ≤ 0).</summary>
    public static float ClipScale(double norm, double maxNorm) =>
        maxNorm > 0 ? (float)Math.Min(1.0, maxNorm / (norm + 1e-6)) : 1f;
}
