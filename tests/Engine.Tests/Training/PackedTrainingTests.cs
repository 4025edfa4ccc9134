using Engine.Data;
using Engine.Models;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>--packing end to end through the trainer: one step over the same conversations, packed into fewer rows or
/// one per row, computes the same loss and the same gradient for every parameter (the reference is the unpacked run:
/// each sample alone in its row, plain causal attention from position 0).</summary>
public class PackedTrainingTests
{
    [Fact]
    public void A_packed_step_has_the_gradients_of_the_unpacked_step()
    {
        var (plainLoss, plain, plainRows) = FirstStep(packing: false);
        var (packedLoss, packed, packedRows) = FirstStep(packing: true);
        Assert.True(packedRows < plainRows, $"packing made {packedRows} rows of {plainRows} samples");
        Assert.True(Math.Abs(packedLoss - plainLoss) <= 1e-5 * Math.Abs(plainLoss), $"loss {packedLoss} packed vs {plainLoss}");
        foreach (var (name, a) in plain)
        {
            var b = packed[name];
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * (1e-3 + Math.Abs(a[i])) + 1e-9, $"{name}[{i}]: {b[i]} packed vs {a[i]}");
        }
    }

    private static (double Loss, Dictionary<string, float[]> Grads, int Rows) FirstStep(bool packing)
    {
        using var tmp = new TempDir();
        var (model, data) = TrainerFixture.Create(tmp.Path, TrainMode.Full, batch: 12, samples: 12);
        using var _ = model;
        if (packing)
            data = TrainingData.Prepare(new DataOptions { DataPath = Path.Combine(tmp.Path, "subset.json"), MaxLength = 128, BatchSize = 12, Seed = 3, Packing = true },
                                        Demo.Tokenizer());
        Assert.Equal(1, data.Train.BatchesPerEpoch); // every sample in the one step
        var trainable = model.Parameters.Trainable.Select(t => (t.Name, Param: t.Tensor)).ToList();
        var o = new TrainOptions { Mode = TrainMode.Full, OutputDir = Path.Combine(tmp.Path, "out"), MaxSteps = 1, BatchSize = 12, LearningRate = 1e-3f, LoggingSteps = 1 };
        Dictionary<string, float[]>? grads = null;
        var trainer = new Trainer(model, trainable, data, o, TextWriter.Null) { PlainProgress = true };
        trainer.BeforeUpdate = _ => grads = trainable.ToDictionary(t => t.Name, t => GradCheck.Values(t.Param.Grad!));
        var result = trainer.Run(CancellationToken.None);
        return (result.StepLosses[0], grads!, data.Train.Count);
    }
}
