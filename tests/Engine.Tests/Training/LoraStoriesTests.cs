using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Nn;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Training.Metrics;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>LoRA on the real stories260K (converted to an HF folder) with FastChat's dummy conversations, through
/// <see cref="TrainJob"/> as <c>engine train --mode lora</c> runs it.</summary>
public class LoraStoriesTests
{
    [Fact]
    public void Lora_lowers_the_loss_saves_a_peft_adapter_that_reproduces_the_trained_logits()
    {
        using var tmp = new TempDir();
        var model = HfFixture.Stories260K(tmp.Path);
        var data = SharedData.Require("datasets/fastchat_dummy_conversation.json");
        var outDir = Path.Combine(tmp.Path, "run");
        int[] probe = { 1, 403, 407, 261, 378, 432 };

        // Step-0 logits of the adapted model equal the base model's (B starts at zero).
        using (var base0 = ModelLoader.Load(model, CpuBackend.Instance, new WeightOptions()))
        {
            var before = Stories260KTests.FullLogits(base0.Model, probe);
            using var lora = LoraAdapter.Inject(base0.Model, new LoraOptions { R = 8, Alpha = 16 });
            Assert.Equal(before, Stories260KTests.FullLogits(base0.Model, probe));
        }

        var job = new TrainJobOptions
        {
            ModelPath = model, Data = new DataOptions { DataPath = data, MaxLength = 128 },
            Lora = new LoraOptions { R = 8, Alpha = 16, Dropout = 0.05f },
            Loop = new TrainOptions
            {
                Mode = TrainMode.Lora, OutputDir = outDir, MaxSteps = 40, BatchSize = 8, LearningRate = 5e-3f,
                LoggingSteps = 5, WarmupSteps = 2, Seed = 1,
            },
        };
        float[]? trained = null;
        var t = new TrainJob(job, CpuBackend.Instance, TextWriter.Null)
        {
            ConfigureTrainer = tr => tr.PlainProgress = true,
            AfterTraining = m => trained = Stories260KTests.FullLogits(m, probe),
        };
        var result = t.Run(CancellationToken.None).Train;
        var losses = result.StepLosses;
        double first = losses.Take(3).Average(), last = losses.TakeLast(3).Average();
        Assert.True(last <= 0.7 * first, $"loss fell from {first:F3} to {last:F3}, less than 30%");

        // PEFT layout: names and shapes.
        using (var st = Engine.Formats.SafeTensorsFile.Open(Path.Combine(outDir, "adapter_model.safetensors")))
        {
            Assert.Equal(5 * 7 * 2, st.Names.Count);
            Assert.Equal(new[] { 8, 64 }, st.Info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").Shape);
            Assert.Equal(new[] { 32, 8 }, st.Info("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight").Shape);
            Assert.Equal(new[] { 64, 8 }, st.Info("base_model.model.model.layers.4.mlp.down_proj.lora_B.weight").Shape);
            Assert.Equal(new[] { 8, 172 }, st.Info("base_model.model.model.layers.4.mlp.down_proj.lora_A.weight").Shape);
        }
        var cfg = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "adapter_config.json")))!;
        Assert.Equal("LORA", cfg["peft_type"]!.GetValue<string>());
        Assert.Equal(8, cfg["r"]!.GetValue<int>());

        // Loaded back as `engine generate --adapter` does, the adapter reproduces the trained model's logits.
        using var reloaded = ModelLoader.Load(model, CpuBackend.Instance, new WeightOptions());
        reloaded.Model.Owned.Add(PeftAdapterIO.Load(reloaded.Model, outDir));
        Assert.Equal(trained!, Stories260KTests.FullLogits(reloaded.Model, probe));

        // Every logged scalar reached TensorBoard and metrics.jsonl.
        var logged = MetricsJsonlReader.Read(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal(8, logged.Count);
        var tb = TensorBoardReader.ReadFolder(Path.Combine(outDir, "runs"));
        foreach (var m in logged)
            foreach (var tag in new[] { "loss", "lr", "grad_norm", "tokens_per_s" })
                Assert.Contains(tb, s => s.Step == m.Step && s.Tag == tag);
        Assert.True(File.Exists(Path.Combine(outDir, "loss.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "training_args.json")));
    }
}
