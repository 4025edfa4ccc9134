namespace Engine.Training;

internal enum TrainMode { Full, Sft, Lora, Qlora }

/// <summary>Every knob of <c>engine train</c> that the training loop itself uses. Defaults follow HF TrainingArguments
/// where the issue is silent, except the learning rate, which depends on the mode (see <see cref="DefaultLearningRate"/>).</summary>
internal sealed record TrainOptions
{
    public TrainMode Mode { get; init; } = TrainMode.Lora;
    public required string OutputDir { get; init; }
    public int NumEpochs { get; init; } = 3;
    /// <summary>When positive, overrides the number of epochs.</summary>
    public int MaxSteps { get; init; } = -1;
    public int BatchSize { get; init; } = 4;
    public int GradAccum { get; init; } = 1;
    public float? LearningRate { get; init; }
    public LrSchedulerKind Scheduler { get; init; } = LrSchedulerKind.Cosine;
    public double WarmupRatio { get; init; } = 0.03;
    public int? WarmupSteps { get; init; }
    public float WeightDecay { get; init; }
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float AdamEps { get; init; } = 1e-8f;
    public double MaxGradNorm { get; init; } = 1.0;
    public ulong Seed { get; init; } = 42;
    public bool GradientCheckpointing { get; init; }
    public int LoggingSteps { get; init; } = 10;
    /// <summary>Save a checkpoint every N optimizer steps (0: only at the end and on interrupt).</summary>
    public int SaveSteps { get; init; }
    /// <summary>Keep the newest K checkpoints (0: keep all).</summary>
    public int SaveTotalLimit { get; init; }
    /// <summary>Evaluate every N steps when eval data exists (0: at the end only).</summary>
    public int EvalSteps { get; init; }
    /// <summary>ZeRO stage of data-parallel training: 1 shards AdamW's moments across the ranks
    /// (<see cref="ZeroOneSharding"/>); 0, and any run of one process, keeps them whole.</summary>
    public int ZeroStage { get; init; }
    /// <summary>Data-parallel training: all-reduce gradient buckets while the last micro-batch's backward still runs
    /// (<see cref="Engine.Distributed.GradientBucketer"/>) rather than after it; the sums are the same bits either way.</summary>
    public bool OverlapGradientReduction { get; init; } = true;
    /// <summary>Consecutive non-finite steps after which the run stops.</summary>
    public int MaxBadSteps { get; init; } = 3;

    public float DefaultLearningRate => Mode is TrainMode.Lora or TrainMode.Qlora ? 2e-4f : 2e-5f;
    public float EffectiveLearningRate => LearningRate ?? DefaultLearningRate;

    public static TrainMode ParseMode(string s) => s.ToLowerInvariant() switch
    {
        "full" => TrainMode.Full,
        "sft" => TrainMode.Sft,
        "lora" => TrainMode.Lora,
        "qlora" => TrainMode.Qlora,
        _ => throw new EngineException($"--mode: expected full, sft, lora or qlora, got \"{s}\""),
    };
}
