using Engine.Models;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>A run of 2N steps and a run interrupted at N and resumed give identical losses at every step (bitwise on
/// the CPU), with dropout on (its masks come from (seed, step, micro-batch), so they replay).</summary>
public class ResumeTests
{
    [Theory]
    [InlineData(nameof(TrainMode.Lora))]
    [InlineData(nameof(TrainMode.Full))]
    public void Interrupted_and_resumed_run_equals_the_uninterrupted_one(string modeName)
    {
        var mode = Enum.Parse<TrainMode>(modeName);
        const int n = 4;
        using var tmp = new TempDir();
        var whole = Run(Path.Combine(tmp.Path, "whole"), mode, stopAt: null, resume: false);
        Assert.Equal(2 * n, whole.StepLosses.Count);

        var dir = Path.Combine(tmp.Path, "split");
        var first = Run(dir, mode, stopAt: n, resume: false);
        Assert.True(first.Interrupted);
        Assert.Equal(n, first.Steps);
        Assert.True(Directory.Exists(Path.Combine(dir, "checkpoint-4")));
        var second = Run(dir, mode, stopAt: null, resume: true);
        Assert.False(second.Interrupted);

        var resumed = first.StepLosses.Concat(second.StepLosses).ToArray();
        Assert.Equal(whole.StepLosses.ToArray(), resumed);
        var lines = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(2 * n, lines.Length);
    }

    private static TrainResult Run(string dir, TrainMode mode, int? stopAt, bool resume)
    {
        Directory.CreateDirectory(dir);
        var (model, data) = TrainerFixture.Create(dir, mode);
        using var _ = model;
        var trainable = mode == TrainMode.Lora
            ? LoraAdapter.Inject(model, new LoraOptions { R = 4, Alpha = 8, Dropout = 0.1f, Seed = 9 }).Parameters.Trainable.ToList()
            : model.Parameters.Trainable.ToList();
        var o = new TrainOptions { Mode = mode, OutputDir = dir, MaxSteps = 8, BatchSize = 4, GradAccum = 2, LearningRate = 3e-3f, LoggingSteps = 1, Seed = 11, WeightDecay = 0.01f };
        var t = new Trainer(model, trainable, data, o, TextWriter.Null) { PlainProgress = true };
        using var cts = new CancellationTokenSource();
        if (stopAt is int s) t.OnLog = m => { if (m.Step == s) cts.Cancel(); };
        return t.Run(cts.Token, resume ? CheckpointStore.Resolve("latest", dir) : null);
    }
}
