using Engine.Backends.Cuda;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Cuda;

/// <summary>The goal of the step's device totals: a training step on the ILGPU backend waits for the device once per
/// optimizer step (the read of the loss and the gradient norm), whatever the number of micro-batches and of trainable
/// tensors, logging included.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class TrainingStepSyncTests(IlgpuCpuFixture fx)
{
    [Theory]
    [InlineData(nameof(TrainMode.Full))]
    [InlineData(nameof(TrainMode.Lora))]
    public void Each_optimizer_step_reads_from_the_device_once(string modeName)
    {
        var mode = Enum.Parse<TrainMode>(modeName);
        var be = fx.F32;
        using var tmp = new TempDir();
        var data = TrainerFixture.Data(tmp.Path, batch: 1, samples: 4, maxLength: 40);
        var cfg = TrainerFixture.SmallConfig(Demo.Tokenizer().VocabSize);
        var weights = new WeightOptions { Trainable = mode == TrainMode.Full ? _ => true : null };
        using var model = new LlamaModel(cfg, be, LlamaWeights.Random(cfg, be, 5, weights, 0.02, 0.15));
        using var lora = mode == TrainMode.Lora ? LoraAdapter.Inject(model, new LoraOptions { R = 2, Alpha = 4, Dropout = 0f, Targets = LoraOptions.ParseTargets("q,k,v,o,gate,up,down") }) : null;
        var trainable = (lora?.Parameters.Trainable ?? model.Parameters.Trainable).Select(p => (p.Name, Param: p.Tensor)).ToList();

        const int steps = 3;
        var o = new TrainOptions
        {
            Mode = mode, OutputDir = tmp.Path, MaxSteps = steps, BatchSize = 1, GradAccum = 2, LearningRate = 1e-3f,
            MaxGradNorm = 1.0, LoggingSteps = 1,
        };
        var readsAtLog = new List<long>();
        var losses = new List<double>();
        var trainer = new Trainer(model, trainable, data, o, TextWriter.Null)
        {
            PlainProgress = true,
            OnLog = m => { readsAtLog.Add(be.HostReads); losses.Add(m.Loss); },
        };
        trainer.Run(CancellationToken.None);

        Assert.Equal(steps, readsAtLog.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, $"loss {l}"));
        var perStep = readsAtLog.Zip(readsAtLog.Skip(1), (a, b) => b - a).ToList();
        Assert.All(perStep, n => Assert.Equal(1L, n));
    }
}
