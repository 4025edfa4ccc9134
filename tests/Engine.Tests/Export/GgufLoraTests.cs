using System.Text.Json.Nodes;
using Engine.Api;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Export;

/// <summary><c>engine export gguf-lora</c>: a PEFT adapter written as a llama.cpp LoRA adapter GGUF, judged by the real
/// llama.cpp (LLamaSharp 0.30.0): the f32 base GGUF with the adapter applied at scale 1 must compute what engine computes
/// with the adapter attached, and what llama.cpp computes on the merged model's GGUF (<c>export gguf --adapter</c>).</summary>
public class GgufLoraTests
{
    private readonly ITestOutputHelper _log;

    public GgufLoraTests(ITestOutputHelper log) => _log = log;

    private static string Tok512Path => SharedData.Require("stories260K/tok512.model");

    private static LoadedModel LoadHf(string dir) => ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions());

    /// <summary>Writes a tiny base of <paramref name="family"/> and a random adapter on all seven projections; returns
    /// engine's logits of base+adapter.</summary>
    private static float[] BaseAndAdapter(string family, TempDir tmp, bool rslora = false)
    {
        var spec = ModelFamilyTests.Spec(family);
        spec.WriteHfFolder(tmp.File("base"), spec.RandomWeights(53));
        using var m = LoadHf(tmp.File("base"));
        using var lora = LoraAdapter.Inject(m.Model, new LoraOptions { R = 4, Alpha = 8, UseRslora = rslora, Targets = LoraOptions.ParseTargets("all-linear") });
        var rng = new Rng(7);
        foreach (var (_, t) in lora.Parameters.All) rng.FillNormal(t.F32(), 0, 0.3);
        PeftAdapterIO.Save(lora, tmp.File("adapter"), null);
        return Stories260KTests.FullLogits(m.Model, ModelFamilyTests.Prompt);
    }

    private static double Worst(float[] want, float[] got)
    {
        Assert.Equal(want.Length, got.Length);
        double worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(want[i] - got[i]) / Math.Max(1, Math.Abs(want[i])));
        return worst;
    }

    // The bound of the existing llama.cpp judge (FamilyGgufTests): both sides fp32 from the same f32 weights, 1e-4
    // relative with floor 1. llama.cpp computes B·(A·x) unmerged like engine; the merged file rounds W + s·B·A once.
    [Theory]
    [InlineData("llama3", "llama", false)]
    [InlineData("llama-biased", "llama", false)]
    [InlineData("qwen2", "qwen2", false)]
    [InlineData("qwen2", "qwen2", true)]
    [InlineData("qwen3", "qwen3", false)]
    public void Llama_cpp_applying_the_adapter_file_computes_the_adapted_model(string family, string arch, bool rslora)
    {
        using var tmp = new TempDir();
        var engine = BaseAndAdapter(family, tmp, rslora);
        var f32 = new GgufExportOptions { Type = "f32" };
        ModelFiles.ExportGguf(tmp.File("base"), tmp.File("base.gguf"), f32, tokenizer: Tok512Path);
        ModelFiles.ExportGguf(tmp.File("base"), tmp.File("merged.gguf"), f32, tmp.File("adapter"), Tok512Path);
        var r = ModelFiles.ExportGgufLora(tmp.File("base"), tmp.File("adapter"), tmp.File("lora.gguf"));
        Assert.Equal(arch, r.Architecture);
        Assert.Equal(4, r.Rank);
        Assert.Equal(rslora ? 8 * 2f : 8f, r.Alpha); // rsLoRA: alpha·√r, so llama.cpp's alpha / r is alpha / √r
        var spec = ModelFamilyTests.Spec(family);
        Assert.Equal(spec.Layers * 7 * 2, r.Tensors.Count);
        using (var g = GgufFile.Open(tmp.File("lora.gguf")))
        {
            Assert.Equal(arch, g.GetString("general.architecture"));
            Assert.Equal("adapter", g.GetString("general.type"));
            Assert.Equal("lora", g.GetString("adapter.type"));
            Assert.Equal("lora", g.GetString("general.name"));
            Assert.Equal(r.Alpha, g.GetF32("adapter.lora.alpha"));
            // ggml ne: lora_a [in, r], lora_b [r, out]
            Assert.Equal(new long[] { spec.Hidden, 4 }, g.TensorInfo("blk.0.attn_q.weight.lora_a").Dims);
            Assert.Equal(new long[] { 4, spec.Heads * spec.HeadDim }, g.TensorInfo("blk.0.attn_q.weight.lora_b").Dims);
            Assert.Equal(GgmlType.F32, g.TensorInfo("blk.1.ffn_down.weight.lora_b").Type);
        }

        float[] plain, applied, merged;
        using (var cpp = LlamaCpp.Open(tmp.File("base.gguf")))
        {
            plain = cpp.Logits(ModelFamilyTests.Prompt);
            cpp.ApplyLora(tmp.File("lora.gguf"), 1f);
            applied = cpp.Logits(ModelFamilyTests.Prompt);
        }
        using (var cpp = LlamaCpp.Open(tmp.File("merged.gguf"))) merged = cpp.Logits(ModelFamilyTests.Prompt);
        double vsEngine = Worst(engine, applied), vsMerged = Worst(merged, applied), effect = Worst(engine, plain);
        _log.WriteLine($"{family}{(rslora ? " rslora" : "")}: worst relative |llama.cpp+lora − engine| = {vsEngine:E2}, |llama.cpp+lora − llama.cpp merged| = {vsMerged:E2}; the adapter itself moves logits by {effect:E2}");
        Assert.True(effect > 1e-2, $"the adapter barely changes the logits ({effect:E2}): the test would not see a wrong export");
        Assert.True(vsEngine <= 1e-4, $"{family}: llama.cpp base+lora vs engine {vsEngine:E2} > 1e-4 ({LlamaCpp.ErrorLog})");
        Assert.True(vsMerged <= 1e-4, $"{family}: llama.cpp base+lora vs merged {vsMerged:E2} > 1e-4 ({LlamaCpp.ErrorLog})");
    }

    [Fact]
    public void F16_adapter_tensors_are_the_f32_ones_rounded_and_llama_cpp_applies_them()
    {
        using var tmp = new TempDir();
        var engine = BaseAndAdapter("llama3", tmp);
        ModelFiles.ExportGguf(tmp.File("base"), tmp.File("base.gguf"), new GgufExportOptions { Type = "f32" }, tokenizer: Tok512Path);
        ModelFiles.ExportGgufLora(tmp.File("base"), tmp.File("adapter"), tmp.File("lora32.gguf"));
        var r = ModelFiles.ExportGgufLora(tmp.File("base"), tmp.File("adapter"), tmp.File("lora16.gguf"), "f16", "tiny-lora");
        Assert.All(r.Tensors, t => Assert.Equal("f16", t.Type));
        using (var g32 = GgufFile.Open(tmp.File("lora32.gguf")))
        using (var g16 = GgufFile.Open(tmp.File("lora16.gguf")))
        {
            Assert.Equal("tiny-lora", g16.GetString("general.name"));
            foreach (var t in r.Tensors)
            {
                int n = (int)t.Shape.Aggregate(1L, (a, d) => a * d);
                float[] a = new float[n], b = new float[n];
                g32.ReadFloats(t.Name, a);
                g16.ReadFloats(t.Name, b);
                Assert.Equal(a.Select(x => (float)(Half)x).ToArray(), b);
            }
        }
        float[] plain, applied;
        using (var cpp = LlamaCpp.Open(tmp.File("base.gguf")))
        {
            plain = cpp.Logits(ModelFamilyTests.Prompt);
            cpp.ApplyLora(tmp.File("lora16.gguf"), 1f);
            applied = cpp.Logits(ModelFamilyTests.Prompt);
        }
        double worst = Worst(engine, applied), effect = Worst(engine, plain);
        _log.WriteLine($"f16 adapter: worst relative |llama.cpp+lora − engine| = {worst:E2}; the adapter moves logits by {effect:E2}");
        // ggml multiplies f16 weights with activations rounded to f16 too, so this is no fp32 comparison (measured
        // 7.1e-2 against an adapter effect of 21): the adapter must account for at least 99% of the change.
        Assert.True(worst <= 0.01 * effect, $"f16 adapter vs engine {worst:E2} > 1% of the adapter's effect {effect:E2}");
    }

    [Fact]
    public void Cli_writes_the_adapter_file()
    {
        using var tmp = new TempDir();
        BaseAndAdapter("qwen2", tmp);
        var outPath = tmp.File("a.gguf");
        var (exit, output, err) = CliHarness.Run("export", "gguf-lora", "--model", tmp.File("base"), "--adapter", tmp.File("adapter"), "--out", outPath);
        Assert.True(exit == 0, err);
        Assert.StartsWith($"wrote {outPath}: qwen2 LoRA adapter, r 4, alpha 8, {ModelFamilyTests.Spec("qwen2").Layers * 14} tensors", output);
        Assert.True(File.Exists(outPath));
    }

    [Theory]
    [InlineData("target_modules", """["q_proj", "embed_tokens"]""", "embed_tokens")]
    [InlineData("target_modules", """["lm_head"]""", "lm_head")]
    [InlineData("use_dora", "true", "use_dora")]
    [InlineData("bias", "\"all\"", "bias")]
    public void Adapters_llama_cpp_cannot_apply_are_refused_by_name(string field, string json, string named)
    {
        using var tmp = new TempDir();
        BaseAndAdapter("qwen2", tmp);
        var cfgPath = Path.Combine(tmp.File("adapter"), PeftAdapterIO.ConfigFile);
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg[field] = JsonNode.Parse(json);
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var e = Assert.ThrowsAny<EngineException>(() => ModelFiles.ExportGgufLora(tmp.File("base"), tmp.File("adapter"), tmp.File("x.gguf")));
        Assert.Contains(named, e.Message);
        Assert.False(File.Exists(tmp.File("x.gguf")));
    }

    [Fact]
    public void A_target_without_a_llama_cpp_name_is_refused_by_the_writer()
    {
        // The PEFT reader already refuses modules outside the seven projections; the writer names one too if handed it.
        Assert.Null(GgufNames.ProjectionWeight(0, "embed_tokens"));
        Assert.Equal("blk.3.ffn_down.weight", GgufNames.ProjectionWeight(3, "down_proj"));
    }
}
