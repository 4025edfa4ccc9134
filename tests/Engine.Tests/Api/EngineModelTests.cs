using System.Text.Json;
using Engine.Api;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Api;

/// <summary>The public API against the independent float64 references of stories260K, and its errors.</summary>
public class EngineModelTests
{
    private static string Stories => SharedData.Require("stories260K/stories260K.bin");

    [Fact]
    public void Greedy_generation_through_the_api_reproduces_the_reference()
    {
        using var m = EngineModel.Load(Stories, new ModelOptions { Device = "cpu" });
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_greedy_256.json"))).RootElement;
        var streamed = new System.Text.StringBuilder();
        var r = m.Generate("", new GenerationOptions { MaxNewTokens = 256, Temperature = 0 }, piece => streamed.Append(piece));
        Assert.Equal(reference.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), r.Tokens);
        Assert.Equal(new[] { 1 }, r.PromptTokens);
        Assert.Equal(reference.GetProperty("text").GetString(), r.Text);
        Assert.Equal(256, r.NewTokens);
        // The streamed pieces are the same text (the decoder drops SentencePiece's leading space of the first piece).
        Assert.Equal(r.Text.TrimStart(), streamed.ToString().TrimStart());
    }

    [Fact]
    public void Evaluate_matches_the_reference_nll()
    {
        using var m = EngineModel.Load(Stories, new ModelOptions { Device = "cpu" });
        var r = m.Evaluate(TextBlocks.Read(SharedData.Require("datasets/tinystories_sample_cs336.txt")));
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("stories260K/reference_nll_tinystories_sample.json"))).RootElement;
        Assert.Equal(reference.GetProperty("predicted_tokens").GetInt64(), r.PredictedTokens);
        Assert.Equal(reference.GetProperty("mean_nll_nats").GetDouble(), r.MeanNll, 1e-4);
        Assert.Equal(reference.GetProperty("perplexity").GetDouble(), r.Perplexity, 1e-3);
    }

    [Fact]
    public void Info_describes_stories260K()
    {
        using var m = EngineModel.Load(Stories, new ModelOptions { Device = "cpu" });
        var i = m.Info;
        // llama2.c's stories260K: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512, seq 512.
        Assert.Equal((64, 172, 5, 8, 4, 512, 512), (i.HiddenSize, i.IntermediateSize, i.NumHiddenLayers, i.NumAttentionHeads, i.NumKeyValueHeads, i.VocabSize, i.MaxPositionEmbeddings));
        Assert.Equal("Llama2c", i.Format);
        Assert.Equal(512, i.TokenizerVocabSize);
        Assert.Null(i.Quantization);
        Assert.False(m.HasAdapter);
        Assert.Equal("cpu", m.Device);
    }

    [Fact]
    public void Bad_input_through_the_api_is_the_same_engine_exception_the_cli_prints()
    {
        var missing = Path.Combine(Path.GetTempPath(), "engine-no-such-model-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<EngineException>(() => EngineModel.Load(missing));
        Assert.Equal($"--model {missing}: no such file or folder", e.Message);
        var (exit, _, err) = CliHarness.Run("info", "--model", missing);
        Assert.Equal(1, exit);
        Assert.Equal($"error: {e.Message}", err.Trim());

        var b = Assert.Throws<EngineException>(() => FineTuning.Run(new FineTuneOptions { BatchSize = 0 }, cancel: TestContext.Current.CancellationToken));
        Assert.Equal("--batch-size must be positive, got 0", b.Message);
        var d = Assert.Throws<EngineException>(() => EngineModel.Load(Stories, new ModelOptions { Device = "tpu" }));
        Assert.Contains("--device tpu: expected cpu, cuda, cuda:N or auto", d.Message);
        using var m = EngineModel.Load(Stories, new ModelOptions { Device = "cpu" });
        var t = Assert.Throws<EngineException>(() => m.ExportGguf(Path.Combine(Path.GetTempPath(), "x.gguf"), new GgufExportOptions { Type = "q9_9" }));
        Assert.StartsWith("--type q9_9: unknown type; choose one of ", t.Message);
        Assert.Contains("q8_0", t.Message);
    }

    [Fact]
    public void A_disposed_model_refuses_work()
    {
        var m = EngineModel.Load(Stories, new ModelOptions { Device = "cpu" });
        m.Dispose();
        Assert.Throws<ObjectDisposedException>(() => m.Generate("x"));
    }
}
