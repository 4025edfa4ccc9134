using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Diagnostics;

internal sealed record TrainBenchOptions
{
    public string Shape { get; init; } = "stories15m";
    public string Mode { get; init; } = "lora";
    public int Batch { get; init; } = 8;
    public int Seq { get; init; } = 256;
    public int LoraR { get; init; } = 16;
    public float LoraAlpha { get; init; } = 32;
    public bool GradientCheckpointing { get; init; }
    public int WarmupSteps { get; init; } = 1;
    public int Steps { get; init; } = 3;
    /// <summary>Stop timing after this many seconds even if fewer steps ran (at least one timed step always runs).</summary>
    public double MaxSeconds { get; init; } = 120;
}

internal sealed record TrainBenchResult(string Shape, string Mode, string Device, int Batch, int Seq, int TimedSteps,
                                      double MedianStepSeconds, double TokensPerSecond, long PeakBytes, double FirstLoss)
{
    public string Line() =>
        $"{Shape} {Mode} b{Batch}×s{Seq} on {Device}: {TokensPerSecond:N0} tokens/s (median step {MedianStepSeconds * 1e3:F0} ms over {TimedSteps}), peak {PeakBytes / (double)(1L << 30):F2} GiB, loss {FirstLoss:F3}";
}

/// <summary>Training throughput of the real training step (forward, backward, clipping, AdamW) on random tokens:
/// the same model code and optimizer as <c>engine train</c>, without the data pipeline.</summary>
internal static class TrainThroughput
{
    public static TrainBenchResult Run(IBackend be, TrainBenchOptions o, TextWriter log)
    {
        var c = BenchShapes.Get(o.Shape);
        if (o.Seq > c.MaxPositionEmbeddings) c = c with { MaxPositionEmbeddings = o.Seq };
        var mode = TrainOptions.ParseMode(o.Mode);
        if (mode is TrainMode.Qlora or TrainMode.Sft) throw new EngineException($"bench train: --mode {o.Mode} is not benchmarked yet (full or lora)");
        var weights = new WeightOptions { Trainable = mode == TrainMode.Full ? _ => true : null };
        var clock = Stopwatch.StartNew();
        using var model = new LlamaModel(c, be, PatternWeights.Create(c, be, weights));
        model.GradientCheckpointing = o.GradientCheckpointing;
        LoraAdapter? lora = null;
        if (mode == TrainMode.Lora)
        {
            lora = LoraAdapter.Inject(model, new LoraOptions { R = o.LoraR, Alpha = o.LoraAlpha, Dropout = 0f });
            model.Owned.Add(lora);
        }
        var trainable = (lora?.Parameters.Trainable ?? model.Parameters.Trainable).Select(p => (p.Name, Param: p.Tensor)).ToList();
        using var opt = new AdamWOptimizer(be, trainable, new AdamWOptions());
        using var totals = new StepTotals(be);
        be.Synchronize();
        log.WriteLine($"bench train: {o.Shape} ({model.Parameters.CountElements():N0} parameters, {trainable.Sum(t => t.Param.NumElements):N0} trainable) built in {clock.Elapsed.TotalSeconds:F1} s");

        var rng = new Rng(3);
        var ids = new int[o.Batch * o.Seq];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.NextInt(c.VocabSize);
        var targets = LlamaModel.NextTokenTargets(ids, o.Seq);
        using var idT = TensorScope.Unscoped(() => be.FromInts(ids, new Shape(o.Batch, o.Seq)));
        using var tgT = TensorScope.Unscoped(() => be.FromInts(targets, new Shape(ids.Length)));
        float scale = 1f / (o.Batch * (o.Seq - 1));

        double firstLoss = double.NaN;
        double Step(int i)
        {
            Tensor loss;
            using (var scope = new TensorScope())
                loss = scope.Keep(model.Loss(idT, tgT, scale, new ForwardContext(true, (ulong)i)));
            using (loss)
            {
                totals.AddLoss(loss);
                loss.Backward();
            }
            // the trainer's step: one read of the loss and the norm, then the update
            totals.AddSquaredNorm(trainable.Select(t => t.Param));
            var (stepLoss, norm) = totals.ReadAndReset();
            opt.Step(1e-5f, GradientTools.ClipScale(norm, 1.0));
            opt.ZeroGrad();
            return stepLoss;
        }

        be.ResetPeakMemory();
        for (int i = 0; i < o.WarmupSteps; i++)
        {
            var t0 = Stopwatch.StartNew();
            double l = Step(i);
            be.Synchronize();
            if (i == 0) firstLoss = l;
            log.WriteLine($"  warm-up step {i + 1}: {t0.Elapsed.TotalSeconds:F2} s, loss {l:F4}");
        }
        var times = new List<double>();
        var budget = Stopwatch.StartNew();
        for (int i = 0; i < o.Steps; i++)
        {
            var t0 = Stopwatch.StartNew();
            double l = Step(o.WarmupSteps + i);
            be.Synchronize();
            times.Add(t0.Elapsed.TotalSeconds);
            if (double.IsNaN(firstLoss)) firstLoss = l;
            log.WriteLine($"  step {i + 1}: {times[^1]:F3} s, loss {l:F4}");
            if (budget.Elapsed.TotalSeconds > o.MaxSeconds) break;
        }
        times.Sort();
        double median = times[times.Count / 2];
        return new TrainBenchResult(o.Shape, o.Mode, be.Name, o.Batch, o.Seq, times.Count, median,
                                    o.Batch * o.Seq / median, be.MemoryInUse.Peak, firstLoss);
    }
}
