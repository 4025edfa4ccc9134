using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>The families under QLoRA's NF4 base, with a 152K vocabulary, and generating through the KV cache.</summary>
public class ModelFamilyScaleTests
{
    /// <summary>NF4 quantizes the seven projections and nothing else: biases and q/k norms stay dense, and the model
    /// computes the float64 reference forward of its dequantized weights. Saved as bitsandbytes NF4 it reloads the same.</summary>
    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3-biased")]
    [InlineData("llama-biased")]
    public void An_nf4_base_keeps_biases_and_norms_dense_and_computes_its_dequantized_weights(string family)
    {
        var spec = ModelFamilyTests.Spec(family);
        var w = spec.RandomWeights(51);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("hf"), w);
        using var q = ModelLoader.Load(tmp.File("hf"), CpuBackend.Instance, new WeightOptions { Nf4 = new Nf4Options() });
        var quantized = Nf4Quantization.QuantizedProjections(q.Model).ToList();
        Assert.Equal(7 * spec.Layers, quantized.Count);
        Assert.All(q.Model.Parameters.All, p => Assert.False(LlamaWeights.IsProjection(p.Name), p.Name));
        Assert.Equal(spec.Tensors().Count(t => t.Name.EndsWith(".bias", StringComparison.Ordinal) || t.Name.Contains("_norm.")),
            q.Model.Parameters.All.Count(p => p.Name.EndsWith(".bias", StringComparison.Ordinal) || p.Name.Contains("_norm.")));

        var dequantized = new Dictionary<string, float[]>(w);
        foreach (var (name, lin) in quantized)
        {
            using var t = lin.Dequantize(DType.F32);
            var f = new float[t.NumElements];
            CpuBackend.Instance.ToFloats(t, f);
            dequantized[name] = f;
        }
        var logits = Stories260KTests.FullLogits(q.Model, ModelFamilyTests.Prompt);
        ModelFamilyTests.AssertClose(FamilyReference.Logits(spec, dequantized, ModelFamilyTests.Prompt), logits, 1e-4, family);

        HfModelWriter.Save(q.Model, tmp.File("nf4"), DType.F32);
        using var back = ModelLoader.Load(tmp.File("nf4"), CpuBackend.Instance, new WeightOptions());
        Assert.Equal(7 * spec.Layers, Nf4Quantization.QuantizedProjections(back.Model).Count());
        Assert.Equal(logits, Stories260KTests.FullLogits(back.Model, ModelFamilyTests.Prompt));
    }

    /// <summary>Qwen 2.5's 152064-token vocabulary: the loss and its gradient over all of it on the CPU equal a float64
    /// log-softmax of engine's own logits (the loss op is checked here, the logits by the reference tests).</summary>
    [Fact]
    public void A_152k_vocabulary_trains_on_the_cpu_with_the_exact_cross_entropy()
    {
        var spec = ModelFamilyTests.Spec("qwen2") with { Vocab = 152064, Hidden = 8, Intermediate = 8, Heads = 2, KvHeads = 1, Layers = 1 };
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.Path, spec.RandomWeights(61));
        using var m = ModelLoader.Load(tmp.Path, CpuBackend.Instance, new WeightOptions { Trainable = _ => true });
        int[] ids = [1, 151643, 100000, 42, 152063, 7];
        var logits = Stories260KTests.FullLogits(m.Model, ids);
        int v = spec.Vocab;
        double want = 0;
        for (int p = 0; p + 1 < ids.Length; p++)
        {
            var row = logits.AsSpan(p * v, v);
            double max = double.NegativeInfinity;
            foreach (var x in row) max = Math.Max(max, x);
            double z = 0;
            foreach (var x in row) z += Math.Exp(x - max);
            want += max + Math.Log(z) - row[ids[p + 1]];
        }
        want /= ids.Length - 1;
        var (idT, tg, count) = TinyLlama.Batch(m.Model, new int[,] { { 1, 151643, 100000, 42, 152063, 7 } });
        using var loss = m.Model.Loss(idT, tg, 1f / count, ForwardContext.Inference);
        var got = new float[1];
        CpuBackend.Instance.ToFloats(loss, got);
        Assert.Equal(want, got[0], 1e-4 * Math.Max(1, want));
        loss.Backward();
        var embedGrad = m.Model.Embed!.Grad!;
        Assert.Equal(new Shape(v, 8), embedGrad.Shape);
        var g = new float[embedGrad.NumElements];
        CpuBackend.Instance.ToFloats(embedGrad, g);
        Assert.All(g, x => Assert.True(float.IsFinite(x)));
        idT.Dispose(); tg.Dispose();
    }

    /// <summary>Greedy generation through the KV cache (biases and q/k norms applied to the cached keys) picks what the
    /// full forward's logits pick at every step.</summary>
    [Theory]
    [InlineData("qwen3-biased")]
    [InlineData("qwen2-yarn")]
    public void Cached_generation_follows_the_full_forward(string family)
    {
        var spec = ModelFamilyTests.Spec(family);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.Path, spec.RandomWeights(71));
        using var m = ModelLoader.Load(tmp.Path, CpuBackend.Instance, new WeightOptions());
        int[] prompt = [1, 17, 300, 42];
        var generated = new Generator(m.Model).Generate(prompt, 12, new SamplingOptions { Temperature = 0 }, stopAtEos: false);
        var seq = prompt.ToList();
        int v = spec.Vocab;
        for (int step = 0; step < 12; step++)
        {
            var logits = Stories260KTests.FullLogits(m.Model, seq.ToArray());
            var last = logits.AsSpan((seq.Count - 1) * v, v);
            int best = 0;
            for (int k = 1; k < v; k++) if (last[k] > last[best]) best = k;
            seq.Add(best);
        }
        Assert.Equal(seq, generated);
    }
}
