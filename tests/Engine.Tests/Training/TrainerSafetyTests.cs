using Engine.Models;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Non-finite steps never reach a checkpoint; checkpoints rotate; half-written ones are ignored.</summary>
public class TrainerSafetyTests
{
    [Fact]
    public void A_nan_loss_skips_the_update_is_reported_by_step_and_stops_the_run_without_a_checkpoint()
    {
        using var tmp = new TempDir();
        var (model, data) = TrainerFixture.Create(tmp.Path, TrainMode.Full);
        using var _ = model;
        var w = model.Parameters["model.layers.0.mlp.up_proj.weight"];
        GradCheck.Values(w); // exists
        Engine.Backends.Cpu.CpuBackend.Instance.Fill(w, float.NaN);
        var log = new StringWriter();
        var o = new TrainOptions { Mode = TrainMode.Full, OutputDir = tmp.Path, MaxSteps = 10, BatchSize = 4, SaveSteps = 1, LoggingSteps = 1 };
        var t = new Trainer(model, model.Parameters.Trainable.Select(p => (p.Name, Param: p.Tensor)).ToList(), data, o, log) { PlainProgress = true };
        var e = Assert.Throws<EngineException>(() => t.Run(CancellationToken.None));
        Assert.Contains("step 3", e.Message);
        Assert.Contains("step 1: non-finite loss", log.ToString());
        Assert.Empty(CheckpointStore.List(tmp.Path));
        // the NaN weights were not "updated": the norm weights that got no NaN gradient are unchanged too
        Assert.All(GradCheck.Values(model.Parameters["model.norm.weight"]), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Save_total_limit_keeps_the_newest_checkpoints_and_ignores_unfinished_ones()
    {
        using var tmp = new TempDir();
        var (model, data) = TrainerFixture.Create(tmp.Path, TrainMode.Full);
        using var _ = model;
        var o = new TrainOptions { Mode = TrainMode.Full, OutputDir = tmp.Path, MaxSteps = 5, BatchSize = 4, SaveSteps = 1, SaveTotalLimit = 2, LearningRate = 1e-3f };
        new Trainer(model, model.Parameters.Trainable.Select(p => (p.Name, Param: p.Tensor)).ToList(), data, o, TextWriter.Null) { PlainProgress = true }
            .Run(CancellationToken.None);
        Assert.Equal(new[] { 4, 5 }, CheckpointStore.List(tmp.Path).Select(c => c.Step));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "checkpoint-9.tmp-123"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "checkpoint-8"));            // no trainer_state.json: incomplete
        Assert.Equal(5, CheckpointStore.List(tmp.Path)[^1].Step);
        Assert.EndsWith("checkpoint-5", CheckpointStore.Resolve("latest", tmp.Path));
    }
}
