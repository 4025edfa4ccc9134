using Engine.Api;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Quant;
using Engine.Tests.Support;

namespace Engine.Tests.Api;

/// <summary>Fine-tuning, merging and exporting through the public API.</summary>
public class FineTuningTests
{
    [Fact]
    public void Demo_lora_run_reports_progress_and_opens_the_trained_model()
    {
        using var tmp = new TempDir();
        var seen = new List<TrainingProgress>();
        var r = FineTuning.Run(new FineTuneOptions { Device = "cpu", OutputDir = tmp.Path, MaxSteps = 12, LoggingSteps = 3 }, seen.Add, TestContext.Current.CancellationToken);
        Assert.False(r.Interrupted);
        Assert.Equal(12, r.Steps);
        Assert.Equal(new[] { 3, 6, 9, 12 }, seen.Select(p => p.Step));
        Assert.All(seen, p => Assert.Equal(12, p.TotalSteps));
        Assert.True(seen[^1].Loss < seen[0].Loss, $"loss did not fall: {seen[0].Loss} -> {seen[^1].Loss}");
        Assert.True(File.Exists(Path.Combine(tmp.Path, "adapter_model.safetensors")));

        // The trained adapter changes the demo's output; without it the base is what it was.
        using var trained = r.OpenModel(new ModelOptions { Device = "cpu" });
        using var plain = EngineModel.Demo(new ModelOptions { Device = "cpu" });
        Assert.True(trained.HasAdapter);
        var g = new GenerationOptions { MaxNewTokens = 8, Temperature = 0, IgnoreEos = true };
        var a = trained.Generate("USER: Hi", g);
        Assert.Equal(a.Tokens, EngineModel.Demo(new ModelOptions { Device = "cpu", Adapter = tmp.Path }).Generate("USER: Hi", g).Tokens);
        // A conversation of the training data, rendered as vicuna_v1.1 does: the trained model predicts it better.
        var sample = new[] { "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, " +
                             "and polite answers to the user's questions. USER: What is LoRA? ASSISTANT: LoRA adds small trainable low-rank " +
                             "matrices to a frozen model, so fine-tuning needs far less memory." };
        double before = plain.Evaluate(sample).MeanNll, after = trained.Evaluate(sample).MeanNll;
        Assert.True(after < before - 0.1, $"NLL of a training conversation: base {before}, trained {after}");
    }

    /// <summary>export gguf --adapter on an NF4 (QLoRA) base: every projection in the file is dequant(NF4) + (alpha/r)·B·A,
    /// computed here in float64 from the quantized folder and the adapter file.</summary>
    [Fact]
    public void Export_with_an_adapter_on_an_nf4_base_writes_the_merged_weights()
    {
        using var tmp = new TempDir();
        var nf4 = Path.Combine(tmp.Path, "nf4");
        var q = ModelFiles.Quantize(SharedData.Require("stories260K/stories260K.bin"), nf4);
        Assert.Equal(35, q.QuantizedProjections);
        var run = Path.Combine(tmp.Path, "run");
        FineTuning.Run(new FineTuneOptions
        {
            Mode = FineTuneMode.Qlora, Model = nf4, Data = SharedData.Require("datasets/tinystories_sample_cs336.txt"), Device = "cpu",
            OutputDir = run, MaxSteps = 3, BatchSize = 2, MaxLength = 64, LearningRate = 2e-2f, LoraR = 4, LoraAlpha = 8, LoraDropout = 0,
        }, cancel: TestContext.Current.CancellationToken);
        var gguf = Path.Combine(tmp.Path, "merged.gguf");
        var export = ModelFiles.ExportGguf(nf4, gguf, new GgufExportOptions { Type = "f32" }, adapter: run);
        Assert.Empty(export.Notes);
        // Without an adapter too, every projection is written (dequantized), not only the tensors stored densely.
        var plain = ModelFiles.ExportGguf(nf4, Path.Combine(tmp.Path, "plain.gguf"), new GgufExportOptions { Type = "f32" });
        var dense = ModelFiles.ExportGguf(SharedData.Require("stories260K/stories260K.bin"), Path.Combine(tmp.Path, "dense.gguf"), new GgufExportOptions { Type = "f32" });
        Assert.Equal(dense.Tensors.Select(t => t.Name), plain.Tensors.Select(t => t.Name));
        Assert.Equal(dense.Tensors.Select(t => t.Name), export.Tensors.Select(t => t.Name));

        using var folder = SafeTensorsSource.Open(nf4);
        using var adapter = SafeTensorsFile.Open(Path.Combine(run, "adapter_model.safetensors"));
        using var file = GgufFile.Open(gguf);
        foreach (var (layer, hf, ggufName) in new[] { (0, "mlp.down_proj", "blk.0.ffn_down.weight"), (4, "self_attn.v_proj", "blk.4.attn_v.weight") })
        {
            var w = Nf4BnbState.FromBnbState(folder, $"model.layers.{layer}.{hf}.");
            var expected = new float[(long)w.Rows * w.Cols];
            w.Dequantize(expected);
            var a = new float[4 * w.Cols];
            var b = new float[w.Rows * 4];
            adapter.ReadFloats($"base_model.model.model.layers.{layer}.{hf}.lora_A.weight", a);
            adapter.ReadFloats($"base_model.model.model.layers.{layer}.{hf}.lora_B.weight", b);
            Assert.Contains(b, x => x != 0);
            var got = new float[expected.Length];
            file.ReadFloats(ggufName, got);
            double worst = 0;
            for (int o = 0; o < w.Rows; o++)
                for (int i = 0; i < w.Cols; i++)
                {
                    double delta = 0;
                    for (int k = 0; k < 4; k++) delta += (double)b[o * 4 + k] * a[k * w.Cols + i];
                    double want = expected[(long)o * w.Cols + i] + 2.0 * delta;
                    worst = Math.Max(worst, Math.Abs(want - got[(long)o * w.Cols + i]));
                }
            Assert.True(worst < 1e-6, $"{ggufName}: merged weight off by {worst}");
        }
    }
}
