using Engine.Models;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The trainer's optimizer steps against an independent float64 computation of clipping (torch's
/// clip_grad_norm_), the HF cosine schedule with warmup and torch.optim.AdamW, from the same gradients.</summary>
public class OptimizerStepTests
{
    [Theory]
    [InlineData(nameof(TrainMode.Full))]
    [InlineData(nameof(TrainMode.Sft))]
    public void Steps_equal_a_float64_adamw_with_decay_clipping_and_schedule(string modeName)
    {
        var mode = Enum.Parse<TrainMode>(modeName);
        using var tmp = new TempDir();
        Func<string, bool>? sft = mode == TrainMode.Sft ? TrainableSelection.Parse("last:1", TrainerFixture.SmallConfig(1000)) : null;
        var (model, data) = TrainerFixture.Create(tmp.Path, mode, trainable: sft);
        using var _ = model;
        var all = model.Parameters.All.ToList();
        var frozenBefore = all.Where(p => !p.Tensor.RequiresGrad).ToDictionary(p => p.Name, p => GradCheck.Values(p.Tensor));
        var trainable = model.Parameters.Trainable.Select(t => (t.Name, Param: t.Tensor)).ToList();
        Assert.NotEmpty(trainable);
        if (mode == TrainMode.Sft)
        {
            Assert.All(trainable, p => Assert.StartsWith("model.layers.1.", p.Name));
            Assert.NotEmpty(frozenBefore);
        }

        const int steps = 3;
        const double lr0 = 5e-3, wd = 0.1, maxNorm = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var o = new TrainOptions
        {
            Mode = mode, OutputDir = tmp.Path, MaxSteps = steps, BatchSize = 4, LearningRate = (float)lr0, WarmupSteps = 1,
            Scheduler = LrSchedulerKind.Cosine, WeightDecay = (float)wd, MaxGradNorm = maxNorm, LoggingSteps = 1,
        };
        // float64 reference state, fed with the trainer's own gradients at each step
        var p = trainable.ToDictionary(t => t.Name, t => GradCheck.Values(t.Param).Select(v => (double)v).ToArray());
        var m = p.ToDictionary(kv => kv.Key, kv => new double[kv.Value.Length]);
        var v = p.ToDictionary(kv => kv.Key, kv => new double[kv.Value.Length]);
        var trainer = new Trainer(model, trainable, data, o, TextWriter.Null) { PlainProgress = true };
        trainer.BeforeUpdate = step =>
        {
            var g = trainable.ToDictionary(t => t.Name, t => GradCheck.Values(t.Param.Grad!));
            double norm = Math.Sqrt(g.Values.Sum(a => a.Sum(x => (double)x * x)));
            double clip = Math.Min(1.0, maxNorm / (norm + 1e-6));
            Assert.True(clip < 1, "the test should exercise clipping");
            double lambda = step < 1 ? step / 1.0 : 0.5 * (1 + Math.Cos(Math.PI * (step - 1) / (steps - 1.0)));
            double lr = lr0 * lambda;
            int t = step + 1;
            foreach (var (name, param) in p)
            {
                double decay = AdamWOptimizer.NoDecay(name) ? 0 : wd;
                var gm = g[name]; var mm = m[name]; var vv = v[name];
                for (int i = 0; i < param.Length; i++)
                {
                    double gi = gm[i] * clip;
                    param[i] *= 1 - lr * decay;
                    mm[i] = b1 * mm[i] + (1 - b1) * gi;
                    vv[i] = b2 * vv[i] + (1 - b2) * gi * gi;
                    double mhat = mm[i] / (1 - Math.Pow(b1, t));
                    double denom = Math.Sqrt(vv[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                    param[i] -= lr * mhat / denom;
                }
            }
        };
        trainer.Run(CancellationToken.None);

        foreach (var (name, t) in trainable)
        {
            var got = GradCheck.Values(t);
            var want = p[name];
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-6 * Math.Max(1, Math.Abs(want[i])), $"{name}[{i}]: {got[i]} vs {want[i]}");
        }
        foreach (var (name, before) in frozenBefore)
        {
            var t = model.Parameters[name];
            Assert.Equal(before, GradCheck.Values(t));
            Assert.Null(t.Grad);
        }
    }
}
