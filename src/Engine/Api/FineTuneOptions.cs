namespace Engine.Api;

/// <summary>The four ways to fine-tune.</summary>
public enum FineTuneMode
{
    /// <summary>Every weight trains (fp32 weights and AdamW states).</summary>
    Full,
    /// <summary>Only the parts named by <see cref="FineTuneOptions.Trainable"/> train; the rest is frozen.</summary>
    Sft,
    /// <summary>A frozen base with small trainable LoRA adapters (PEFT's layout).</summary>
    Lora,
    /// <summary>LoRA on a base whose projections are quantized to 4-bit NF4 (bitsandbytes' layout).</summary>
    Qlora,
}

/// <summary>Everything a fine-tuning run takes; the names follow <c>engine train</c>'s flags (and HF TrainingArguments /
/// PEFT where those define them). Null means the default, which for the built-in demo differs where noted.</summary>
public sealed record FineTuneOptions
{
    /// <summary>Full, SFT, LoRA (the default) or QLoRA.</summary>
    public FineTuneMode Mode { get; init; } = FineTuneMode.Lora;
    /// <summary>The base model (HF folder, llama2.c .bin or .gguf); null trains the built-in demo (<see cref="EngineModel.Demo"/>).</summary>
    public string? Model { get; init; }
    /// <summary>A tokenizer file; null looks beside the model.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Training data: ShareGPT/Vicuna or OpenAI-messages JSON/JSONL, Alpaca JSON/JSONL, CSV/JSONL with a text
    /// column, or plain text. Required with <see cref="Model"/>; the demo uses its sample conversations.</summary>
    public string? Data { get; init; }
    /// <summary>Where the adapter (or model), checkpoints, metrics.jsonl, TensorBoard files and loss.png go.</summary>
    public string OutputDir { get; init; } = "out";
    /// <summary>"auto", "cpu", "cuda" or "cuda:N" (see <see cref="ModelOptions.Device"/>).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>A separate evaluation file.</summary>
    public string? EvalData { get; init; }
    /// <summary>Fraction of the data held out for evaluation (0 = none).</summary>
    public double EvalSplit { get; init; }
    /// <summary>chat (the model's own chat template), vicuna_v1.1, llama-2, alpaca or raw; null follows the data
    /// format (conversations: the model's chat template when it has one, else vicuna_v1.1).</summary>
    public string? Template { get; init; }
    /// <summary>Samples are truncated to this many tokens (and to the model's context).</summary>
    public int MaxLength { get; init; } = 2048;
    /// <summary>Learn every token, not only the assistant's.</summary>
    public bool TrainOnInputs { get; init; }
    /// <summary>Pack whole samples into rows of up to <see cref="MaxLength"/> tokens (best-fit decreasing); each sample keeps
    /// its own positions and attends only to itself, so training on a packed row equals training on its samples alone.</summary>
    public bool Packing { get; init; }
    /// <summary>Batch samples of similar length.</summary>
    public bool GroupByLength { get; init; }

    /// <summary>SFT: "last:N", "first:N" or module patterns such as "layers.*.mlp,lm_head".</summary>
    public string? Trainable { get; init; }
    /// <summary>LoRA rank.</summary>
    public int LoraR { get; init; } = 8;
    /// <summary>LoRA alpha (the update is scaled by alpha / r).</summary>
    public float LoraAlpha { get; init; } = 16;
    /// <summary>Dropout on the LoRA input.</summary>
    public float LoraDropout { get; init; } = 0.05f;
    /// <summary>Modules to adapt: PEFT names or q,k,v,o,gate,up,down, or all-linear.</summary>
    public string LoraTargets { get; init; } = "all-linear";
    /// <summary>QLoRA: quantize the NF4 block scales to 8 bits (bitsandbytes' double quantization).</summary>
    public bool DoubleQuant { get; init; } = true;

    /// <summary>Passes over the data; null is 3 (8 for the demo).</summary>
    public int? NumEpochs { get; init; }
    /// <summary>Optimizer steps; overrides <see cref="NumEpochs"/> when set.</summary>
    public int? MaxSteps { get; init; }
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSize { get; init; } = 4;
    /// <summary>Micro-batches per optimizer step.</summary>
    public int GradAccum { get; init; } = 1;
    /// <summary>Peak learning rate; null is 2e-4 for LoRA/QLoRA and 2e-5 for full/SFT (3e-3 and 2e-3 for the demo).</summary>
    public float? LearningRate { get; init; }
    /// <summary>cosine, linear or constant.</summary>
    public string LrScheduler { get; init; } = "cosine";
    /// <summary>Warmup as a fraction of the steps.</summary>
    public double WarmupRatio { get; init; } = 0.03;
    /// <summary>Warmup steps; overrides <see cref="WarmupRatio"/> when set.</summary>
    public int? WarmupSteps { get; init; }
    /// <summary>AdamW decoupled weight decay (not applied to norms).</summary>
    public float WeightDecay { get; init; }
    /// <summary>Global gradient-norm clipping (0 = off).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Seed of data order, adapter initialisation and dropout.</summary>
    public ulong Seed { get; init; } = 42;
    /// <summary>Recompute each decoder layer in backward (less memory, about a third more compute).</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Log (and call the progress callback) every N steps; null is 10 (5 for the demo).</summary>
    public int? LoggingSteps { get; init; }
    /// <summary>Checkpoint every N steps (0 = only when cancelled).</summary>
    public int SaveSteps { get; init; }
    /// <summary>Keep the newest K checkpoints (0 = all).</summary>
    public int SaveTotalLimit { get; init; }
    /// <summary>Evaluate every N steps (0 = at the end).</summary>
    public int EvalSteps { get; init; }
    /// <summary>"latest" or a checkpoint folder to continue from. Only the same run resumes: a checkpoint written with
    /// another model, data or setting that changes the math is refused, naming the first difference.</summary>
    public string? Resume { get; init; }
    /// <summary>Start a new run in an <see cref="OutputDir"/> that holds another run's outputs (training_args.json,
    /// checkpoints, adapter, metrics.jsonl) after removing them; without it such a run is refused (HF's
    /// overwrite_output_dir). Cannot be combined with <see cref="Resume"/>.</summary>
    public bool OverwriteOutputDir { get; init; }
    /// <summary>Full/SFT: dtype of the saved model (f32, bf16 or f16).</summary>
    public string SaveDType { get; init; } = "f32";
    /// <summary>Draw the progress bar on the console (what the CLI does); otherwise progress goes only to the log
    /// writer and the callback.</summary>
    public bool ConsoleProgressBar { get; init; }
    /// <summary>Data-parallel runs (a process started by mpirun, torchrun or <c>engine train --nproc-per-node</c>): the
    /// longest any rank waits in one collective for the others before the job ends with an error naming the collective
    /// (default 30 minutes, torch.distributed's). Ignored by a single-process run.</summary>
    public TimeSpan? DistributedTimeout { get; init; }
    /// <summary>Data-parallel runs: 1 shards AdamW's moments across the ranks (ZeRO-1), so each rank holds m and v only
    /// for the parameters it owns (about 1/N of them) and updates those, then shares them; losses, gradient norms and
    /// weights are bit-identical to a run without it, and checkpoints keep the same format, so a run can resume with or
    /// without it. 0 (the default) keeps the moments whole on every rank. A single-process run has nothing to shard:
    /// there it changes nothing.</summary>
    public int ZeroStage { get; init; }
    /// <summary>Data-parallel runs: all-reduce the gradients in buckets while the backward pass of a step's last
    /// micro-batch still runs, as PyTorch DDP does (true, the default), or only after it (false). The sums, and so every
    /// loss, norm and weight, are bit-identical either way; only the time differs. Over NCCL the reduction always
    /// follows the backward for now. A single-process run reduces nothing: there it changes nothing.</summary>
    public bool OverlapGradientReduction { get; init; } = true;

    /// <summary>Range-checks every number (and the names parsed later) before anything is loaded or written; each error
    /// names the flag and the allowed range.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Mode)) throw new EngineException($"--mode: expected full, sft, lora or qlora, got {(int)Mode}");
        OptionChecks.Interval(EvalSplit, OptionChecks.Show(EvalSplit), 0, 1, "--eval-split", note: "0 = no split");
        OptionChecks.Positive(MaxLength, "--max-length");
        OptionChecks.AtLeast(LoraR, 1, "--lora-r");
        OptionChecks.Positive(LoraAlpha, OptionChecks.Show(LoraAlpha), "--lora-alpha", note: "the update is scaled by alpha / r");
        OptionChecks.Interval(LoraDropout, OptionChecks.Show(LoraDropout), 0, 1, "--lora-dropout");
        if (NumEpochs is int e) OptionChecks.AtLeast(e, 1, "--num-epochs");
        if (MaxSteps is int ms && ms != -1) OptionChecks.AtLeast(ms, 1, "--max-steps", "or -1 to follow --num-epochs");
        OptionChecks.Positive(BatchSize, "--batch-size");
        OptionChecks.Positive(GradAccum, "--grad-accum");
        if (LearningRate is float lr)
            OptionChecks.Positive(lr, OptionChecks.Show(lr), "--learning-rate", note: "fine-tuning uses about 1e-5 to 1e-3");
        OptionChecks.Interval(WarmupRatio, OptionChecks.Show(WarmupRatio), 0, 1, "--warmup-ratio");
        if (WarmupSteps is int ws) OptionChecks.AtLeast(ws, 0, "--warmup-steps");
        OptionChecks.Positive(WeightDecay, OptionChecks.Show(WeightDecay), "--weight-decay", orZero: true);
        OptionChecks.Positive(MaxGradNorm, OptionChecks.Show(MaxGradNorm), "--max-grad-norm", orZero: true, note: "0 = no clipping");
        if (LoggingSteps is int ls) OptionChecks.Positive(ls, "--logging-steps");
        OptionChecks.AtLeast(SaveSteps, 0, "--save-steps", "0 = only when interrupted");
        OptionChecks.AtLeast(SaveTotalLimit, 0, "--save-total-limit", "0 = keep all");
        OptionChecks.AtLeast(EvalSteps, 0, "--eval-steps", "0 = at the end");
        if (DistributedTimeout is TimeSpan t && t <= TimeSpan.Zero)
            throw new EngineException($"--dist-timeout: expected a positive number of seconds, got {t.TotalSeconds}");
        if (ZeroStage is < 0 or > 1)
            throw new EngineException($"--zero: expected 0 (off) or 1 (AdamW moments sharded across the data-parallel ranks), got {ZeroStage}");
        Training.TrainJob.ParseDType(SaveDType); // refused now, not after training
    }
}

/// <summary>One logged training step, as passed to the progress callback of <see cref="FineTuning.Run"/>.</summary>
/// <param name="Loss">Mean training loss since the previous report.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="EvalLoss">Set on steps where an evaluation ran.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, double Epoch, double Loss, double LearningRate, double GradNorm,
    double TokensPerSecond, double? EvalLoss);
