namespace Engine.Training.Metrics;

/// <summary>What the trainer reports for one logged optimizer step; every sink takes this.</summary>
internal sealed record StepMetrics
{
    public required long Step { get; init; }
    /// <summary>Fractional epoch (1.5 = halfway through the second pass over the data).</summary>
    public double Epoch { get; init; }
    public required double Loss { get; init; }
    public double LearningRate { get; init; }
    /// <summary>Global gradient norm before clipping.</summary>
    public double GradNorm { get; init; }
    public double TokensPerSecond { get; init; }
    /// <summary>Set only on steps where an evaluation ran.</summary>
    public double? EvalLoss { get; init; }
    /// <summary>Further named values (e.g. "tokens", "mem_gb"); written after the fixed fields, in enumeration order.
    /// Names must not repeat a fixed field's name.</summary>
    public IReadOnlyDictionary<string, double>? Extra { get; init; }
}
