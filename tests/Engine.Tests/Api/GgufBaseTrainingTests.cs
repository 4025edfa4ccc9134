using Engine.Api;
using Engine.Tests.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Api;

/// <summary>A GGUF someone already has as the base of a LoRA run: a Qwen 2 model (biases, rows of 256 so the k-quants
/// apply) exported as q4_k_m, then trained with <c>--model model.gguf</c>. The base is dequantized to the compute dtype
/// and stays frozen; the adapter lowers the NLL of the training text as scored through the same GGUF base.</summary>
public class GgufBaseTrainingTests
{
    [Fact]
    public void Lora_on_a_q4_k_m_gguf_base_trains_and_evaluates()
    {
        using var tmp = new TempDir();
        var spec = FamilySpec.Qwen2() with { Hidden = 256, Intermediate = 512, Layers = 2, Heads = 4, KvHeads = 2, Vocab = 512, MaxPositions = 256 };
        var folder = Path.Combine(tmp.Path, "qwen2");
        spec.WriteHfFolder(folder, spec.RandomWeights(3, std: 0.05));
        File.Copy(SharedData.Require("stories260K/tok512.model"), Path.Combine(folder, "tokenizer.model"));
        var gguf = Path.Combine(tmp.Path, "base-q4_k_m.gguf");
        var export = ModelFiles.ExportGguf(folder, gguf, new GgufExportOptions { Type = "q4_k_m" });
        Assert.Contains(export.Tensors, t => t.Type == "q4_K");
        Assert.Contains(export.Tensors, t => t.Type == "q6_K");

        var text = Path.Combine(tmp.Path, "train.txt");
        const string story = "Once upon a time there was a little cat. The cat liked to play in the sun with a red ball.";
        File.WriteAllText(text, story + "\n");
        var run = FineTuning.Run(new FineTuneOptions
        {
            Mode = FineTuneMode.Lora, Model = gguf, Data = text, Device = "cpu", OutputDir = Path.Combine(tmp.Path, "out"),
            MaxSteps = 10, BatchSize = 1, LearningRate = 5e-3f, LoraDropout = 0, WarmupRatio = 0,
        }, null, TestContext.Current.CancellationToken);
        Assert.Equal(10, run.Steps);

        using var plain = EngineModel.Load(gguf, new ModelOptions { Device = "cpu" });
        using var trained = run.OpenModel(new ModelOptions { Device = "cpu" });
        double before = plain.Evaluate([story]).MeanNll, after = trained.Evaluate([story]).MeanNll;
        Assert.True(double.IsFinite(before) && after < before - 0.1, $"NLL of the training text: base {before}, trained {after}");
    }
}
