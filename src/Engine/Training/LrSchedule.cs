namespace Engine.Training;

internal enum LrSchedulerKind { Cosine, Linear, Constant }

/// <summary>Learning-rate multipliers exactly as transformers' get_*_schedule_with_warmup: the optimizer step with
/// 0-based index k uses base_lr · λ(k), so with warmup the first step has lr 0 as in HF.</summary>
internal sealed record LrSchedule(LrSchedulerKind Kind, float BaseLr, int TotalSteps, int WarmupSteps)
{
    /// <summary>HF: warmup_steps = ceil(total · ratio) unless warmup steps are given.</summary>
    public static int WarmupFrom(int totalSteps, double ratio, int? steps) =>
        steps ?? (int)Math.Ceiling(totalSteps * ratio);

    public static LrSchedulerKind Parse(string s) => s.ToLowerInvariant() switch
    {
        "cosine" => LrSchedulerKind.Cosine,
        "linear" => LrSchedulerKind.Linear,
        "constant" or "constant_with_warmup" => LrSchedulerKind.Constant,
        _ => throw new EngineException($"--lr-scheduler: expected cosine, linear or constant, got \"{s}\""),
    };

    public double Lambda(int step)
    {
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            LrSchedulerKind.Cosine => Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress))),
            LrSchedulerKind.Linear => Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            _ => 1.0,
        };
    }

    public float At(int step) => (float)(BaseLr * Lambda(step));
}
