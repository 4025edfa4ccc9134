using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Qlora;

/// <summary><c>engine merge</c>: W + (alpha/r)·B·A folded in and saved as an HF folder, for a dense and an NF4 base.</summary>
public class MergeTests
{
    private static readonly int[] Ids = { 1, 403, 407, 261, 378, 432, 289 };

    /// <summary>An adapter on q, v and down with random A and B (B far from zero), saved in PEFT's format.</summary>
    private static string SaveRandomAdapter(LlamaModel model, string dir)
    {
        using var adapter = LoraAdapter.Inject(model, new LoraOptions { R = 4, Alpha = 12, Targets = LoraOptions.ParseTargets("q,v,down") });
        var rng = new Rng(21);
        foreach (var (_, t) in adapter.Parameters.All)
        {
            var v = new float[t.NumElements];
            rng.FillNormal(v, 0, 0.2);
            using var src = CpuBackend.Instance.FromFloats(v, t.Shape, DType.F32);
            CpuBackend.Instance.Copy(src, t);
        }
        PeftAdapterIO.Save(adapter, dir, "stories260K");
        return dir;
    }

    private static void AssertClose(float[] expected, float[] actual, double rel)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= rel * (1 + Math.Abs(expected[i])), $"logit {i}: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merged_logits_equal_base_plus_adapter_logits_in_fp32(bool nf4Base)
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        if (nf4Base)
        {
            var q = tmp.File("q");
            Assert.Equal(0, CliHarness.Run("quantize", "--model", dir, "--out", q).Exit);
            dir = q;
        }
        string adapterDir;
        using (var m = ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions()))
            adapterDir = SaveRandomAdapter(m.Model, tmp.File("adapter"));

        float[] withAdapter, baseOnly;
        using (var m = ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions()))
        {
            baseOnly = Stories260KTests.FullLogits(m.Model, Ids);
            m.Model.Owned.Add(PeftAdapterIO.Load(m.Model, adapterDir));
            withAdapter = Stories260KTests.FullLogits(m.Model, Ids);
        }

        var merged = tmp.File("merged");
        var (exit, output, err) = CliHarness.Run("merge", "--model", dir, "--adapter", adapterDir, "--out", merged, "--dtype", "f32");
        Assert.True(exit == 0, err);
        Assert.Contains($"merged {3 * 5} adapted projections into {(nf4Base ? "the dequantized NF4 base" : "the base")}", output);
        using var loaded = ModelLoader.Load(merged, CpuBackend.Instance, new WeightOptions());
        Assert.Empty(Nf4Quantization.QuantizedProjections(loaded.Model));
        Assert.IsType<Linear>(loaded.Model.Layers[1].K);
        AssertClose(withAdapter, Stories260KTests.FullLogits(loaded.Model, Ids), 1e-5);
        // The adapter matters at this size, so the check above could fail.
        double diff = withAdapter.Zip(baseOnly).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(diff > 1e-2, $"the adapter changed the logits by only {diff}");
    }

    [Fact]
    public void A_bf16_merge_stores_bf16_weights_and_no_quantization_config()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var q = tmp.File("q");
        Assert.Equal(0, CliHarness.Run("quantize", "--model", dir, "--out", q, "--no-double-quant").Exit);
        string adapterDir;
        using (var m = ModelLoader.Load(q, CpuBackend.Instance, new WeightOptions()))
            adapterDir = SaveRandomAdapter(m.Model, tmp.File("adapter"));
        var merged = tmp.File("merged");
        var (exit, _, err) = CliHarness.Run("merge", "--model", q, "--adapter", adapterDir, "--out", merged);
        Assert.True(exit == 0, err);
        using var st = SafeTensorsFile.Open(Path.Combine(merged, "model.safetensors"));
        Assert.Equal("BF16", st.StoredDType("model.layers.0.self_attn.q_proj.weight").Name);
        Assert.Equal(new[] { 64, 64 }, st.Info("model.layers.0.self_attn.q_proj.weight").Shape);
        Assert.DoesNotContain(st.Names, n => n.Contains("absmax"));
        Assert.DoesNotContain("quantization_config", File.ReadAllText(Path.Combine(merged, "config.json")));
        Assert.True(File.Exists(Path.Combine(merged, "tokenizer.model")));
    }

    [Fact]
    public void Merge_with_a_missing_adapter_is_a_one_line_error()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var (exit, _, err) = CliHarness.Run("merge", "--model", dir, "--adapter", tmp.File("nope"), "--out", tmp.File("m"));
        Assert.Equal(1, exit);
        Assert.Contains("adapter_config.json", err);
    }
}
