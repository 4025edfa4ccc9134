using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

public class LoraTests
{
    [Fact]
    public void Fresh_adapter_reproduces_the_base_model_exactly()
    {
        var c = TinyLlama.Config();
        using var m = TinyLlama.Create(c, trainable: false);
        int[] seq = { 1, 4, 9, 2, 7 };
        var before = Integration.Stories260KTests.FullLogits(m, seq);
        using var lora = LoraAdapter.Inject(m, new LoraOptions { R = 4, Alpha = 8 });
        Assert.Equal(7 * c.NumLayers * 2, lora.Parameters.Count);
        Assert.Equal(before, Integration.Stories260KTests.FullLogits(m, seq));
        var a = lora.Parameters[LoraAdapter.PeftName(1, "gate_proj", 'A')];
        var b = lora.Parameters[LoraAdapter.PeftName(1, "gate_proj", 'B')];
        Assert.Equal(new Shape(4, c.HiddenSize), a.Shape);
        Assert.Equal(new Shape(c.IntermediateSize, 4), b.Shape);
        double bound = 1 / Math.Sqrt(c.HiddenSize);
        Assert.All(GradCheck.Values(a), v => Assert.InRange(v, -bound, bound));
    }

    [Fact]
    public void Merged_weights_give_the_adapted_logits()
    {
        var c = TinyLlama.Config();
        using var m = TinyLlama.Create(c, trainable: false);
        using var lora = LoraAdapter.Inject(m, new LoraOptions { R = 2, Alpha = 6, Targets = LoraOptions.ParseTargets("q,v,down") });
        var rng = new Rng(9);
        foreach (var (name, t) in lora.Parameters.All)
        {
            var v = new float[t.NumElements];
            rng.FillNormal(v, 0, 0.5);
            v.CopyTo(t.F32());
        }
        int[] seq = { 1, 3, 10, 6 };
        var adapted = Integration.Stories260KTests.FullLogits(m, seq);
        LoraAdapter.MergeInto(m);
        Assert.IsType<Linear>(m.Layers[0].Q);
        var merged = Integration.Stories260KTests.FullLogits(m, seq);
        for (int i = 0; i < adapted.Length; i++)
            Assert.True(Math.Abs(adapted[i] - merged[i]) <= 1e-5 * (1 + Math.Abs(adapted[i])), $"logit {i}: {adapted[i]} vs {merged[i]}");
    }

    [Fact]
    public void Lora_gradients_pass_a_finite_difference_check_and_the_base_gets_none()
    {
        var c = TinyLlama.Config();
        using var m = TinyLlama.Create(c, trainable: false);
        using var lora = LoraAdapter.Inject(m, new LoraOptions { R = 2, Alpha = 4, Dropout = 0.2f });
        var rng = new Rng(3);
        foreach (var (_, t) in lora.Parameters.All) rng.FillNormal(t.F32(), 0, 0.3);
        var (ids, tg, count) = TinyLlama.Batch(m, new[,] { { 1, 4, 7, 2, 9 } });
        var ctx = new ForwardContext(true, 77);
        GradCheck.Check(_ => m.Loss(ids, tg, 1f / count, ctx), lora.Parameters.All.Select(p => p.Tensor).ToArray(), maxProbes: 16);
        Assert.All(m.Parameters.All, p => Assert.Null(p.Tensor.Grad));
    }

    [Fact]
    public void Gradient_checkpointing_recomputes_the_same_lora_gradients_and_dropout_masks()
    {
        Dictionary<string, float[]> Grads(bool checkpointing)
        {
            var c = TinyLlama.Config();
            using var m = TinyLlama.Create(c, trainable: false);
            using var lora = LoraAdapter.Inject(m, new LoraOptions { R = 2, Alpha = 4, Dropout = 0.2f });
            var rng = new Rng(3);
            foreach (var (_, t) in lora.Parameters.All) rng.FillNormal(t.F32(), 0, 0.3);
            m.GradientCheckpointing = checkpointing;
            var (ids, tg, count) = TinyLlama.Batch(m, new[,] { { 1, 4, 7, 2, 9 }, { 3, 8, 8, 1, 0 } });
            Tensor loss;
            using (var s = new TensorScope()) loss = s.Keep(m.Loss(ids, tg, 1f / count, new ForwardContext(true, 77)));
            using (loss) loss.Backward();
            return lora.Parameters.All.ToDictionary(p => p.Name, p => GradCheck.Values(p.Tensor.Grad!));
        }
        var plain = Grads(false);
        var recomputed = Grads(true);
        foreach (var (name, a) in plain)
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - recomputed[name][i]) <= 1e-6f * Math.Max(1f, Math.Abs(a[i])), $"{name}[{i}]: {a[i]} vs {recomputed[name][i]}");
    }

    [Theory]
    [InlineData("q_proj,v_proj", new[] { "q_proj", "v_proj" })]
    [InlineData("v,q", new[] { "q_proj", "v_proj" })]
    [InlineData("all-linear", new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" })]
    public void Target_names_follow_peft(string spec, string[] expected) => Assert.Equal(expected, LoraOptions.ParseTargets(spec));

    [Fact]
    public void Unknown_target_is_a_clear_error()
    {
        var e = Assert.Throws<EngineException>(() => LoraOptions.ParseTargets("q,attn"));
        Assert.Contains("attn", e.Message);
    }
}
