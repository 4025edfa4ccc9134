using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Quant;
using Engine.Tests.Integration;
using Engine.Tests.Models;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Export;

/// <summary>Each model family exported to GGUF and judged by the real llama.cpp (LLamaSharp 0.30.0's native build,
/// which has the llama, qwen2 and qwen3 architectures): its logits for a prompt must match engine's on the source
/// model. The stories260K SentencePiece vocabulary (512 pieces) serves every architecture; the tiny models have 512
/// tokens to fit it.</summary>
public class FamilyGgufTests
{
    private readonly ITestOutputHelper _log;

    public FamilyGgufTests(ITestOutputHelper log) => _log = log;

    private static ITokenizer Tok512() => SentencePieceTokenizer.Load(SharedData.Require("stories260K/tok512.model"));

    private static LoadedModel LoadHf(string dir) => ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions());

    // Both sides compute in fp32 from the same f32 weights; the existing stories260K judge measures ~1e-6 and states
    // 1e-4 relative (floor 1), the same bound here.
    [Theory]
    [InlineData("llama3", "llama")]
    [InlineData("mistral", "llama")]
    [InlineData("llama-attention-bias", "llama")]
    [InlineData("llama-biased", "llama")]
    [InlineData("qwen2", "qwen2")]
    [InlineData("qwen2-yarn", "qwen2")]
    [InlineData("qwen3", "qwen3")]
    public void Llama_cpp_logits_of_the_exported_file_match_engine(string family, string arch)
    {
        var tok = Tok512();
        var spec = ModelFamilyTests.Spec(family);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("hf"), spec.RandomWeights(41));
        using var m = LoadHf(tmp.File("hf"));
        var path = tmp.File($"{family}.gguf");
        var report = GgufExporter.Export(m.Model, tok, GgmlType.F32, path);
        using (var g = GgufFile.Open(path))
        {
            Assert.Equal(arch, g.GetString("general.architecture"));
            Assert.Equal((uint)spec.Layers, g.GetU32($"{arch}.block_count"));
            Assert.Equal(spec.RopeScaling?["original_max_position_embeddings"] is not null && arch != "llama",
                g.ContainsKey($"{arch}.rope.scaling.original_context_length"));
            Assert.Equal(family == "llama3", g.Contains("rope_freqs.weight"));
            Assert.Equal(spec.QkvBias, g.Contains("blk.1.attn_v.bias"));
            Assert.Equal(spec.QkNorm, g.Contains("blk.1.attn_k_norm.weight"));
            Assert.Equal(spec.Tie, !g.Contains("output.weight"));
        }
        var engine = Stories260KTests.FullLogits(m.Model, ModelFamilyTests.Prompt);
        using var cpp = LlamaCpp.Open(path);
        var judged = cpp.Logits(ModelFamilyTests.Prompt);
        double worst = 0;
        for (int i = 0; i < engine.Length; i++) worst = Math.Max(worst, Math.Abs(engine[i] - judged[i]) / Math.Max(1, Math.Abs(engine[i])));
        _log.WriteLine($"{family}: worst |engine − llama.cpp| / max(1, |logit|) = {worst:E2}; notes: {string.Join("; ", report.Notes)}");
        Assert.True(worst <= 1e-4, $"{family}: worst relative logit difference {worst:E2} > 1e-4 ({LlamaCpp.ErrorLog})");
    }

    /// <summary>The exported file loads back into engine as a base model (llama3's rope_freqs.weight as the llama3
    /// scaling that produces it) and computes what the source computed.</summary>
    [Theory]
    [InlineData("mistral")]
    [InlineData("llama-biased")]
    [InlineData("qwen2")]
    [InlineData("qwen2-yarn")]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    public void An_exported_file_reads_back_as_the_same_model(string family)
    {
        var spec = ModelFamilyTests.Spec(family);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("hf"), spec.RandomWeights(43));
        using var m = LoadHf(tmp.File("hf"));
        var path = tmp.File("x.gguf");
        GgufExporter.Export(m.Model, Tok512(), GgmlType.F32, path);
        using var back = ModelLoader.Load(path, CpuBackend.Instance, new WeightOptions());
        var c = m.Model.Config;
        // GGUF keeps no Mistral identity (llama.cpp runs it as llama), no window and no token-id lists.
        Assert.Equal(c with { Family = c.Family == Engine.Models.ModelFamily.Mistral ? Engine.Models.ModelFamily.Llama : c.Family, SlidingWindow = null, FirstWindowLayer = 0 },
            back.Model.Config with { BosTokenId = c.BosTokenId, EosTokenId = c.EosTokenId, EosTokenIdList = c.EosTokenIdList });
        Assert.Equal(Stories260KTests.FullLogits(m.Model, ModelFamilyTests.Prompt), Stories260KTests.FullLogits(back.Model, ModelFamilyTests.Prompt));
    }

    [Fact]
    public void What_llama_cpp_cannot_compute_is_refused_at_export_by_its_config_field()
    {
        using var tmp = new TempDir();
        // llama.cpp's qwen3 loader has no attention biases: the file would fail to load there ("wrong number of tensors").
        foreach (var (family, field) in new[] { ("qwen3-biased", "attention_bias") })
        {
            var spec = ModelFamilyTests.Spec(family);
            spec.WriteHfFolder(tmp.File(family), spec.RandomWeights(1));
            using var m = LoadHf(tmp.File(family));
            var e = Assert.Throws<EngineException>(() => GgufExporter.Export(m.Model, Tok512(), GgmlType.F32, tmp.File("r.gguf")));
            Assert.Contains($"{field} true", e.Message);
        }
    }

    [Fact]
    public void A_sliding_window_is_reported_as_not_written()
    {
        var spec = ModelFamilyTests.Spec("mistral") with { Extra = new System.Text.Json.Nodes.JsonObject { ["sliding_window"] = 4096 } };
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("hf"), spec.RandomWeights(1));
        using var m = LoadHf(tmp.File("hf"));
        var report = GgufExporter.Export(m.Model, Tok512(), GgmlType.F32, tmp.File("w.gguf"));
        Assert.Contains(report.Notes, n => n.StartsWith("sliding_window 4096 (from layer 0) is not written: llama.cpp's llama architecture has no sliding-window", StringComparison.Ordinal));
    }
}
