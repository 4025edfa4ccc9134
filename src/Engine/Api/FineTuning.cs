using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Distributed;
using Engine.Training;

namespace Engine.Api;

/// <summary>What a fine-tuning run produced.</summary>
public sealed record FineTuneResult
{
    /// <summary>Optimizer steps done (fewer than planned when cancelled).</summary>
    public required int Steps { get; init; }
    /// <summary>The loss of the last step.</summary>
    public required double FinalLoss { get; init; }
    /// <summary>The last evaluation loss, when evaluation data was given.</summary>
    public double? EvalLoss { get; init; }
    /// <summary>Training tokens per second over the run.</summary>
    public required double TokensPerSecond { get; init; }
    /// <summary>True when the run was cancelled: a checkpoint was saved and <see cref="FineTuneOptions.Resume"/> = "latest" continues it.</summary>
    public required bool Interrupted { get; init; }
    /// <summary>The newest checkpoint folder, if one was written.</summary>
    public string? LastCheckpoint { get; init; }
    /// <summary>The output folder.</summary>
    public required string OutputDir { get; init; }
    /// <summary>The files and folders written.</summary>
    public required IReadOnlyList<string> Outputs { get; init; }
    internal FineTuneOptions Options { get; init; } = new();

    /// <summary>Opens the trained model: the base with the trained adapter (LoRA/QLoRA; a QLoRA base is quantized to NF4
    /// again, as it was in training) or the saved model folder (full/SFT).</summary>
    public EngineModel OpenModel(ModelOptions? options = null)
    {
        if (Interrupted) throw new EngineException($"the run in {OutputDir} was interrupted; resume it before opening its model");
        var o = Options;
        var device = options?.Device ?? o.Device;
        if (o.Mode is FineTuneMode.Full or FineTuneMode.Sft)
            return EngineModel.Load(OutputDir, new ModelOptions { Device = device, Tokenizer = options?.Tokenizer });
        var be = Devices.Create(device);
        bool qlora = o.Mode == FineTuneMode.Qlora;
        if (o.Model is null)
        {
            var demo = EngineModel.DemoModel(be);
            if (qlora) Nf4Quantization.QuantizeLinears(demo.Model, o.DoubleQuant);
            return EngineModel.WithAdapter(demo, "Demo", OutputDir);
        }
        var weights = qlora ? new WeightOptions { Nf4 = new Nf4Options(o.DoubleQuant) } : new WeightOptions();
        var loaded = ModelLoader.Load(o.Model, be, weights, options?.Tokenizer ?? o.Tokenizer);
        return EngineModel.WithAdapter(loaded, loaded.Format.ToString(), OutputDir);
    }
}

/// <summary>Fine-tunes a model (full, SFT, LoRA or QLoRA) as <c>engine train</c> does and saves what the mode produces:
/// a PEFT adapter (LoRA/QLoRA) or an HF model folder (full/SFT), plus training_args.json, metrics.jsonl, TensorBoard
/// files and loss.png.</summary>
public static class FineTuning
{
    /// <param name="progress">Called on every logged step (see <see cref="FineTuneOptions.LoggingSteps"/>).</param>
    /// <param name="cancel">Cancelling finishes the current step, saves a checkpoint and returns with
    /// <see cref="FineTuneResult.Interrupted"/> set.</param>
    /// <param name="log">Receives the run's report lines (what the CLI prints); null keeps it quiet.</param>
    public static FineTuneResult Run(FineTuneOptions options, Action<TrainingProgress>? progress = null,
        CancellationToken cancel = default, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var job = ToJob(options);
        var rank = DistributedEnvironment.Detect();
        var backend = Devices.Create(rank is null ? options.Device : RankDevice(options.Device, rank));
        // A CPU process that torchrun's variables call a world of one needs no communicator (CPU ranks use MPI).
        if (rank is { Size: 1, Launcher: DistributedLauncher.Torchrun } && backend is Backends.Cpu.CpuBackend) rank = null;
        using var comm = rank is null ? null : Communicators.Create(rank, backend, options.DistributedTimeout ?? Communicators.DefaultTimeout);
        var status = rank is null ? null : RankStatus.For(rank);
        status?.Report(0); // the launcher knows this rank's pid from now on (signals reach it while it loads)
        if (rank is { IsMain: false }) { log = null; progress = null; } // rank 0 alone reports
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        using var watch = rank is null ? null : LauncherWatch.Start(stop);
        using var stopping = status is null ? default : stop.Token.Register(status.Stopping);
        var run = new TrainJob(job, backend, log ?? TextWriter.Null) { Comm = comm, Status = status };
        run.ConfigureTrainer = t =>
        {
            t.PlainProgress = !options.ConsoleProgressBar
                || (rank is not null && Environment.GetEnvironmentVariable(DistributedEnvironment.PlainProgressVariable) == "1");
            if (progress is not null)
                t.OnLog = m => progress(new TrainingProgress((int)m.Step, t.TotalSteps, m.Epoch, m.Loss, m.LearningRate, m.GradNorm,
                    m.TokensPerSecond, m.EvalLoss));
        };
        TrainJobResult r;
        try { r = run.Run(stop.Token); }
        catch (Exception e)
        {
            status?.End($"failed: {e.Message}");
            throw;
        }
        status?.End(r.Train.Interrupted ? "stopped" : "done");
        return new FineTuneResult
        {
            Steps = r.Train.Steps, FinalLoss = r.Train.LastLoss, EvalLoss = r.Train.EvalLoss, TokensPerSecond = r.Train.TokensPerSecond,
            Interrupted = r.Train.Interrupted, LastCheckpoint = r.Train.LastCheckpoint, OutputDir = r.OutputDir, Outputs = r.Outputs,
            Options = options,
        };
    }

    /// <summary>A rank's device: "cuda" or "auto" on a launched GPU job means the GPU of its local rank (one process per
    /// GPU, as torchrun starts them); an explicit cuda:N or cpu is kept.</summary>
    private static string RankDevice(string spec, DistributedEnvironment rank)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cuda" || (s == "auto" && rank.Launcher == DistributedLauncher.Torchrun)) return $"cuda:{rank.LocalRank}";
        return spec;
    }

    internal static TrainJobOptions ToJob(FineTuneOptions o)
    {
        o.Validate();
        bool demo = o.Model is null;
        var mode = (TrainMode)(int)o.Mode;
        var loop = new TrainOptions
        {
            Mode = mode,
            OutputDir = o.OutputDir,
            NumEpochs = o.NumEpochs ?? (demo && o.MaxSteps is null ? 8 : 3),
            MaxSteps = o.MaxSteps ?? -1,
            BatchSize = o.BatchSize,
            GradAccum = o.GradAccum,
            LearningRate = o.LearningRate ?? (demo ? DemoLearningRate(mode) : null),
            Scheduler = LrSchedule.Parse(o.LrScheduler),
            WarmupRatio = o.WarmupRatio,
            WarmupSteps = o.WarmupSteps,
            WeightDecay = o.WeightDecay,
            MaxGradNorm = o.MaxGradNorm,
            Seed = o.Seed,
            GradientCheckpointing = o.GradientCheckpointing,
            LoggingSteps = o.LoggingSteps ?? (demo ? 5 : 10),
            SaveSteps = o.SaveSteps,
            SaveTotalLimit = o.SaveTotalLimit,
            EvalSteps = o.EvalSteps,
            ZeroStage = o.ZeroStage,
            OverlapGradientReduction = o.OverlapGradientReduction,
        };
        return new TrainJobOptions
        {
            ModelPath = o.Model,
            TokenizerPath = o.Tokenizer,
            Data = new DataOptions
            {
                DataPath = o.Data, EvalDataPath = o.EvalData, EvalSplit = o.EvalSplit, Template = o.Template,
                MaxLength = o.MaxLength, TrainOnInputs = o.TrainOnInputs, Packing = o.Packing,
                GroupByLength = o.GroupByLength,
            },
            Trainable = o.Trainable,
            Lora = new LoraOptions { R = o.LoraR, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, Targets = LoraOptions.ParseTargets(o.LoraTargets) },
            DoubleQuant = o.DoubleQuant,
            Resume = o.Resume,
            OverwriteOutputDir = o.OverwriteOutputDir,
            SaveDType = o.SaveDType,
            Loop = loop,
        };
    }

    /// <summary>The demo is a tiny model trained from scratch: it needs a far higher rate than fine-tuning a real one.</summary>
    private static float DemoLearningRate(TrainMode m) => m is TrainMode.Lora or TrainMode.Qlora ? 3e-3f : 2e-3f;
}
