using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using Engine.Data;
using Engine.Distributed;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Training.Metrics;

namespace Engine.Training;

/// <summary>How a run ended.</summary>
internal sealed record TrainResult(int Steps, double LastLoss, double? EvalLoss, bool Interrupted, string? LastCheckpoint,
                                 IReadOnlyList<double> StepLosses, double TokensPerSecond);

/// <summary>The training loop: gradient accumulation over micro-batches, a token-level mean loss, global-norm clipping,
/// AdamW with an HF schedule, non-finite steps skipped, periodic evaluation, logging to the console, metrics.jsonl and
/// TensorBoard, atomic checkpoints, exact resume, and a clean stop on cancellation (Ctrl-C).
/// It sees the model and the backend only through <see cref="LlamaModel"/> and <see cref="IBackend"/>: the same loop runs
/// on the CPU and on CUDA.</summary>
internal sealed class Trainer
{
    private readonly LlamaModel _model;
    private readonly IReadOnlyList<(string Name, Tensor Param)> _trainable;
    private readonly PreparedData _data;
    private readonly TrainOptions _o;
    private readonly TextWriter _log;

    public Trainer(LlamaModel model, IReadOnlyList<(string Name, Tensor Param)> trainable, PreparedData data, TrainOptions options, TextWriter log)
    {
        if (trainable.Count == 0) throw new EngineException("nothing to train: no parameter is trainable");
        if (options.GradAccum < 1) throw new EngineException($"--grad-accum must be at least 1, got {options.GradAccum}");
        _model = model;
        _trainable = trainable;
        _data = data;
        _o = options;
        _log = log;
        model.GradientCheckpointing = options.GradientCheckpointing;
    }

    /// <summary>Optimizer steps of the whole run.</summary>
    public int TotalSteps => _o.MaxSteps > 0 ? _o.MaxSteps
        : Math.Max(1, (int)Math.Ceiling((double)_o.NumEpochs * _data.Train.BatchesPerEpoch / _o.GradAccum));

    /// <summary>Called after each logged step (tests observe the run through it).</summary>
    public Action<StepMetrics>? OnLog { get; set; }
    /// <summary>Called with the 0-based step index after the gradients of a step are complete, before clipping and the
    /// update (tests read the gradients here).</summary>
    public Action<int>? BeforeUpdate { get; set; }
    /// <summary>Use a plain-text progress line even on a terminal (tests, logs).</summary>
    public bool PlainProgress { get; set; }
    /// <summary>What makes this run the same run (<see cref="RunIdentity"/>); recorded in every checkpoint.</summary>
    public Dictionary<string, string>? Identity { get; set; }
    /// <summary>Data-parallel training: the ranks of the job. Each loader batch is then a global micro-batch of
    /// batch size × world size rows, of which this rank takes its own <see cref="TrainOptions.BatchSize"/> rows;
    /// gradients, the loss and the stop decision are summed across ranks each step, so every rank takes the same
    /// update; rank 0 alone writes metrics, TensorBoard, the progress line, checkpoints and the loss plot.</summary>
    public ICommunicator? Comm { get; set; }
    /// <summary>Where this rank reports its last step for the launcher (null outside a launched job).</summary>
    public RankStatus? Status { get; set; }

    private bool IsMain => Comm is null || Comm.Rank == 0;

    /// <summary>This rank's rows of a global micro-batch (the whole batch without a communicator).</summary>
    private Batch Local(Batch global) => Comm is null ? global : global.Rows(Comm.Rank * _o.BatchSize, _o.BatchSize);

    public TrainResult Run(CancellationToken cancel, string? resumeFrom = null)
    {
        var be = _model.Backend;
        var loader = _data.Train;
        int total = TotalSteps;
        var schedule = new LrSchedule(_o.Scheduler, _o.EffectiveLearningRate, total, LrSchedule.WarmupFrom(total, _o.WarmupRatio, _o.WarmupSteps));
        // --zero 1 with more than one rank: this rank's optimizer holds the moments of the parameters it owns only.
        var zero = _o.ZeroStage >= 1 && Comm is { Size: > 1 } ? new ZeroOneSharding(Comm, _trainable) : null;
        using var bucketer = OverlapsGradientReduction(Comm, _o) ? new GradientBucketer(Comm!, _trainable.Select(t => t.Param).ToList(), GradientOf) : null;
        using var totals = new StepTotals(be);
        using var optimizer = new AdamWOptimizer(be, zero?.Owned ?? _trainable, new AdamWOptions { Beta1 = _o.Beta1, Beta2 = _o.Beta2, Eps = _o.AdamEps, WeightDecay = _o.WeightDecay });
        if (IsMain) Directory.CreateDirectory(_o.OutputDir);
        if (zero is not null)
            _log.WriteLine($"ZeRO-1: rank {Comm!.Rank} holds AdamW moments for {optimizer.Slots.Count} of {_trainable.Count} trainable tensors " +
                           $"({optimizer.Slots.Sum(s => s.Slot.Param.NumElements):N0} of {_trainable.Sum(t => t.Param.NumElements):N0} elements)");

        int step = 0;
        double lastLoss = double.NaN;
        if (resumeFrom is not null)
        {
            var state = CheckpointStore.Load(resumeFrom, _trainable, optimizer);
            if (state.DataFingerprint != loader.Fingerprint.ToString("x16"))
                throw new EngineException($"--resume {resumeFrom}: the data, batch size or data flags differ from the run that wrote the checkpoint");
            if (state.TotalSteps != total)
                throw new EngineException($"--resume {resumeFrom}: the checkpoint belongs to a run of {state.TotalSteps} steps; this one has {total} (keep --num-epochs/--max-steps/--grad-accum)");
            loader.Position = state.Position;
            step = state.GlobalStep;
            lastLoss = state.Loss ?? double.NaN;
            _log.WriteLine($"resumed from {resumeFrom} at step {step} (data position {state.DataPosition})");
        }

        using var metrics = IsMain ? new MetricsJsonlWriter(Path.Combine(_o.OutputDir, "metrics.jsonl")) : null;
        if (resumeFrom is not null) metrics?.TruncateAfterStep(step);
        using var tb = IsMain ? new TensorBoardWriter(Path.Combine(_o.OutputDir, "runs")) : null;
        using var progress = !IsMain ? new ProgressBar(TextWriter.Null, false, () => null, total, step, Math.Max(1, _o.LoggingSteps), null)
            : PlainProgress
            ? new ProgressBar(_log, false, () => null, total, step, Math.Max(1, _o.LoggingSteps), null)
            : new ProgressBar(total, step, Math.Max(1, _o.LoggingSteps));

        var stepLosses = new List<double>();
        var history = metrics is not null && File.Exists(metrics.FilePath) ? MetricsJsonlReader.Read(metrics.FilePath).ToList() : new List<StepMetrics>();
        if (double.IsNaN(lastLoss) && step > 0 && history.Count > 0) lastLoss = history[^1].Loss; // checkpoints without "loss"
        double windowLoss = 0; int windowSteps = 0; long windowTokens = 0;
        var windowClock = Stopwatch.StartNew();
        var runClock = Stopwatch.StartNew();
        long runTokens = 0;
        int badInARow = 0;
        var collapse = new CollapseWatch(_model.Config.VocabSize);
        double lastNorm = 0;
        double? evalLoss = null;
        string? lastCheckpoint = null;
        bool interrupted = false;
        bool stopAgreed = false; // data parallel: every rank stops after the same step
        var shared = new double[2];
        Status?.Report(step);

        while (step < total)
        {
            if (Comm is null ? cancel.IsCancellationRequested : stopAgreed) { interrupted = true; break; }
            var batches = new List<Batch>(_o.GradAccum);
            for (int j = 0; j < _o.GradAccum; j++) batches.Add(loader.Next());
            int learned = batches.Sum(b => b.LearnedTokens);
            long tokens = batches.Sum(b => (long)b.Lengths.Sum());

            float scale = learned > 0 ? 1f / learned : 0f;
            for (int j = 0; j < batches.Count; j++)
            {
                // Only the last micro-batch's backward all-reduces (earlier ones accumulate, DDP's no_sync); a rank
                // without rows there starts every bucket after it, in the same order as the others.
                bool sync = bucketer is not null && j == batches.Count - 1;
                if (sync) bucketer!.BeginSync();
                var b = Local(batches[j]);
                if (b.BatchSize == 0) continue; // the last global batch of an epoch can leave a rank without rows
                var ctx = new ForwardContext(true, MixSeed(_o.Seed, step, j));
                Tensor l;
                using (var scope = new TensorScope())
                {
                    var ids = be.FromInts(b.InputIds, new Shape(b.BatchSize, b.SeqLen));
                    var targets = be.FromInts(b.Targets, new Shape(b.BatchSize * b.SeqLen));
                    l = scope.Keep(_model.Loss(ids, targets, scale, ctx, b.SegmentStarts));
                }
                using (l)
                {
                    totals.AddLoss(l);
                    BackwardPass.Run(l, null, sync ? bucketer!.MarkReady : null);
                }
            }

            if (Comm is not null)
            {
                // One sum for the gradients (each rank's hold its rows' share of the global token mean) and one for the
                // loss and the stop flag, so every rank sees the same loss, norm and decision.
                if (bucketer is not null) bucketer.FinishSync();
                else Comm.AllReduceSum(GradientBucketer.ReadyOrder(Gradients()));
            }
            BeforeUpdate?.Invoke(step);
            // The step's one host read: the loss and the norm of the (summed) gradients come back together.
            totals.AddSquaredNorm(_trainable.Select(p => p.Param));
            var (loss, norm) = totals.ReadAndReset();
            if (Comm is not null)
            {
                shared[0] = loss;
                shared[1] = cancel.IsCancellationRequested ? 1 : 0;
                Comm.AllReduceSum(shared);
                loss = shared[0];
                stopAgreed = shared[1] > 0;
            }
            if (!double.IsFinite(loss) || !double.IsFinite(norm))
            {
                ZeroGrads();
                badInARow++;
                progress.WriteLine($"step {step + 1}: non-finite {(double.IsFinite(loss) ? "gradient" : "loss")} (loss {loss}, grad norm {norm}); update skipped");
                if (badInARow >= _o.MaxBadSteps)
                    throw new EngineException($"training stopped at step {step + 1}: {badInARow} steps in a row had a NaN/Inf loss or gradient " +
                                              $"(try a lower --learning-rate or --max-grad-norm); the last good checkpoint is {lastCheckpoint ?? "none"}");
                step++;
                Status?.Report(step);
                continue;
            }
            badInARow = 0;
            float lr = schedule.At(step);
            optimizer.Step(lr, GradientTools.ClipScale(norm, _o.MaxGradNorm));
            zero?.ShareUpdates();
            ZeroGrads();
            step++;
            Status?.Report(step);
            if (collapse.Step(step, norm, lr) is string zeroGrad) progress.WriteLine(zeroGrad);
            stepLosses.Add(loss);
            lastLoss = loss; lastNorm = norm;
            windowLoss += loss; windowSteps++; windowTokens += tokens; runTokens += tokens;

            bool evalNow = _data.Eval is not null && ((_o.EvalSteps > 0 && step % _o.EvalSteps == 0) || step == total);
            if (evalNow) evalLoss = Evaluate();
            bool logNow = step % Math.Max(1, _o.LoggingSteps) == 0 || step == total || evalNow;
            if (logNow)
            {
                var m = new StepMetrics
                {
                    Step = step,
                    Epoch = EpochOf(loader),
                    Loss = windowLoss / windowSteps,
                    LearningRate = lr,
                    GradNorm = lastNorm,
                    TokensPerSecond = windowTokens / Math.Max(1e-9, windowClock.Elapsed.TotalSeconds),
                    EvalLoss = evalNow ? evalLoss : null,
                };
                metrics?.Append(m);
                tb?.Log(m);
                progress.Update(m);
                history.Add(m);
                OnLog?.Invoke(m);
                if (collapse.Logged(step, m.Loss, lr) is string uniform) progress.WriteLine(uniform);
                windowLoss = 0; windowSteps = 0; windowTokens = 0;
                windowClock.Restart();
            }
            if (_o.SaveSteps > 0 && step % _o.SaveSteps == 0)
                lastCheckpoint = SaveCheckpoint(optimizer, zero, step, total, loader, lastLoss);
        }

        if (interrupted)
        {
            lastCheckpoint = SaveCheckpoint(optimizer, zero, step, total, loader, lastLoss);
            progress.WriteLine($"interrupted at step {step}: checkpoint saved to {lastCheckpoint}; continue with --resume latest");
        }
        if (IsMain) LossPlot.Save(Path.Combine(_o.OutputDir, "loss.png"), history);
        // No rank leaves before rank 0 has written: a launcher (mpirun) ends the whole job when a rank exits non-zero,
        // as interrupted ranks do.
        Comm?.Barrier();
        return new TrainResult(step, lastLoss, evalLoss, interrupted, lastCheckpoint, stepLosses,
                               runTokens / Math.Max(1e-9, runClock.Elapsed.TotalSeconds));
    }

    /// <summary>Every trainable parameter's gradient (<see cref="GradientOf"/>), so all ranks sum the same list.</summary>
    private List<Tensor> Gradients() => _trainable.Select(t => GradientOf(t.Param)).ToList();

    /// <summary>A parameter's gradient, created as zeros where this rank's rows gave it none (a rank without rows, an
    /// adapter its rows never reached).</summary>
    private static Tensor GradientOf(Tensor p) => p.Grad ??= TensorScope.Unscoped(() => Backend.Of(p).Zeros(p.Shape, p.DType));

    /// <summary>Whether gradient buckets are all-reduced during the backward pass: asked for (the default), more than one
    /// rank, and a communicator whose collectives run in the background (mpi; nccl has no overlapped form yet).</summary>
    internal static bool OverlapsGradientReduction(ICommunicator? comm, TrainOptions o) =>
        o.OverlapGradientReduction && comm is { Size: > 1, OverlapsCollectives: true };

    /// <summary>Every trainable gradient set to zero (under ZeRO-1 the optimizer holds only this rank's parameters,
    /// but every gradient was summed and must start the next step from zero).</summary>
    private void ZeroGrads()
    {
        foreach (var (_, p) in _trainable)
            if (p.Grad is not null) Backend.Of(p.Grad).Fill(p.Grad, 0f);
    }

    /// <summary>Rank 0 writes the checkpoint (every rank holds the same weights and, without ZeRO-1, the same optimizer
    /// state); the others return at once and wait for it at the next collective. Under ZeRO-1 every rank first takes
    /// part in bringing the moments to rank 0, which writes the same file a run without sharding writes.</summary>
    private string? SaveCheckpoint(AdamWOptimizer optimizer, ZeroOneSharding? zero, int step, int total, DataLoader loader, double loss)
    {
        var moments = zero?.GatherMoments(optimizer);
        if (!IsMain) return null;
        var state = new TrainerState
        {
            GlobalStep = step,
            TotalSteps = total,
            Epoch = EpochOf(loader),
            DataPosition = loader.Position.ToString(),
            DataFingerprint = loader.Fingerprint.ToString("x16"),
            Mode = _o.Mode.ToString().ToLowerInvariant(),
            Seed = _o.Seed,
            Loss = double.IsFinite(loss) ? loss : null,
            Run = Identity,
        };
        var path = CheckpointStore.Save(_o.OutputDir, _trainable, optimizer.StepCount, moments ?? OptimizerMoments.All(optimizer), state);
        CheckpointStore.Rotate(_o.OutputDir, _o.SaveTotalLimit);
        return path;
    }

    /// <summary>Mean NLL per learned token over the evaluation set, without gradients or dropout.</summary>
    public double Evaluate()
    {
        var eval = _data.Eval ?? throw new InvalidOperationException("no evaluation data");
        var be = _model.Backend;
        double sum = 0;
        long count = 0;
        using var _ = GradMode.NoGrad();
        foreach (var global in eval.Epoch(0))
        {
            count += global.LearnedTokens;
            var b = Local(global);
            if (b.LearnedTokens == 0) continue;
            using var scope = new TensorScope();
            var ids = be.FromInts(b.InputIds, new Shape(b.BatchSize, b.SeqLen));
            var targets = be.FromInts(b.Targets, new Shape(b.BatchSize * b.SeqLen));
            sum += _model.Loss(ids, targets, 1f, ForwardContext.Inference, b.SegmentStarts).Item();
        }
        if (Comm is not null)
        {
            Span<double> total = stackalloc double[] { sum };
            Comm.AllReduceSum(total);
            sum = total[0];
        }
        return count > 0 ? sum / count : double.NaN;
    }

    private static double EpochOf(DataLoader loader) =>
        loader.Position.Epoch + (double)loader.Position.Batch / Math.Max(1, loader.BatchesPerEpoch);


    /// <summary>The dropout seed of one micro-batch: a function of (run seed, step, micro-batch) only, so a resumed run
    /// draws the same masks.</summary>
    public static ulong MixSeed(ulong seed, int step, int micro)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(step + 1) + 0xD6E8FEB86659FD93UL * (ulong)(micro + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
