using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

public class LlamaModelTests
{
    [Fact]
    public void Whole_model_loss_passes_a_finite_difference_check()
    {
        var c = TinyLlama.Config();
        using var m = TinyLlama.Create(c);
        var (ids, tg, count) = TinyLlama.Batch(m, new[,] { { 1, 4, 7, 2, 9 }, { 1, 3, 3, 10, 5 } });
        var ps = m.Parameters.All.Select(p => p.Tensor).ToArray();
        GradCheck.Check(_ => m.Loss(ids, tg, 1f / count, ForwardContext.Inference), ps, maxProbes: 24);
    }

    [Theory]
    [InlineData(0)]   // the default: one chunk at this vocabulary
    [InlineData(29)]  // 4 × 48 rows in chunks of 29, the last one short
    public void Fused_loss_equals_the_logits_path(int chunkRows)
    {
        var c = TinyLlama.Config(layers: 2, hidden: 32, heads: 4, kvHeads: 2, inter: 64, vocab: 50, ctx: 64);
        var (l0, g0) = LossAndGrads(c, fused: false, chunkRows);
        var (l1, g1) = LossAndGrads(c, fused: true, chunkRows);
        Assert.Equal(l0, l1, 1e-6 * Math.Abs(l0));
        foreach (var (name, a) in g0)
        {
            var b = g1[name];
            float max = a.Max(Math.Abs);
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5f * max, $"{name}[{i}]: {a[i]} vs {b[i]}");
        }
    }

    private static (double Loss, Dictionary<string, float[]> Grads) LossAndGrads(LlamaConfig c, bool fused, int chunkRows)
    {
        using var m = TinyLlama.Create(c, seed: 4, std: 0.1);
        m.FusedLoss = fused;
        m.LossChunkRows = chunkRows;
        var rng = new Rng(6);
        var tokens = new int[4, 48];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 48; j++) tokens[i, j] = rng.NextInt(c.VocabSize);
        var (ids, tg, count) = TinyLlama.Batch(m, tokens);
        Tensor loss;
        using (var s = new TensorScope()) loss = s.Keep(m.Loss(ids, tg, 1f / count, ForwardContext.Inference));
        double value = GradCheck.Values(loss)[0];
        loss.Backward();
        loss.Dispose();
        return (value, m.Parameters.All.ToDictionary(p => p.Name, p => GradCheck.Values(p.Tensor.Grad!)));
    }

    [Fact]
    public void Kv_cache_decoding_matches_the_full_forward()
    {
        var c = TinyLlama.Config(vocab: 13);
        using var m = TinyLlama.Create(c, trainable: false);
        int[] seq = { 1, 5, 8, 2, 11, 4, 0 };
        var full = Integration.Stories260KTests.FullLogits(m, seq);
        var gen = new Generator(m);
        using var cache = new KvCache(m.Backend, c, 16);
        var prefill = gen.Step(cache, seq[..3]);
        AssertClose(full.AsSpan(2 * c.VocabSize, c.VocabSize), prefill);
        for (int t = 3; t < seq.Length; t++)
        {
            var step = gen.Step(cache, new[] { seq[t] });
            AssertClose(full.AsSpan(t * c.VocabSize, c.VocabSize), step);
        }
    }

    /// <summary>A prompt fed in pieces (Generator.PromptChunk, llama.cpp's n_ubatch) gives the logits of the full
    /// forward without a cache after its last token, for pieces that divide it, that do not, and of one token; the
    /// decode steps after it continue from the same cache. Long enough (40 tokens) that pieces of 20 and the full
    /// prompt take the SGEMM attention path and pieces of 3 the dot path.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(20)]
    [InlineData(512)]
    public void A_prompt_fed_in_pieces_matches_the_full_forward(int chunk)
    {
        var c = TinyLlama.Config(vocab: 13, ctx: 64);
        using var m = TinyLlama.Create(c, trainable: false);
        var seq = Enumerable.Range(0, 43).Select(i => (i * 7 + 3) % 13).ToArray();
        var full = Integration.Stories260KTests.FullLogits(m, seq);
        var gen = new Generator(m) { PromptChunk = chunk };
        using var cache = new KvCache(m.Backend, c, 64);
        var prefill = gen.Step(cache, seq[..40]);
        Assert.Equal(40, cache.Length);
        AssertClose(full.AsSpan(39 * c.VocabSize, c.VocabSize), prefill);
        for (int t = 40; t < seq.Length; t++)
            AssertClose(full.AsSpan(t * c.VocabSize, c.VocabSize), gen.Step(cache, new[] { seq[t] }));
        Assert.Throws<ArgumentException>(() => new Generator(m) { PromptChunk = 0 }.Step(cache, new[] { 1 }));
    }

    private static void AssertClose(ReadOnlySpan<float> expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"logit {i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void Gradient_checkpointing_gives_the_same_gradients_with_less_peak_memory()
    {
        var c = TinyLlama.Config(layers: 4, hidden: 32, heads: 4, kvHeads: 2, inter: 64, vocab: 50, ctx: 64);
        var (g0, peak0) = Grads(c, checkpointing: false);
        var (g1, peak1) = Grads(c, checkpointing: true);
        foreach (var (name, a) in g0)
        {
            var b = g1[name];
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-6f * Math.Max(1f, Math.Abs(a[i])), $"{name}[{i}]: {a[i]} vs {b[i]}");
        }
        Assert.True(peak1 < peak0, $"peak with checkpointing {peak1} B is not below {peak0} B");
    }

    private static (Dictionary<string, float[]> Grads, long Peak) Grads(LlamaConfig c, bool checkpointing)
    {
        var be = new CpuBackend();
        using var m = TinyLlama.Create(c, seed: 3, std: 0.1, be: be);
        m.GradientCheckpointing = checkpointing;
        var rng = new Rng(5);
        var tokens = new int[4, 48];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 48; j++) tokens[i, j] = rng.NextInt(c.VocabSize);
        var (ids, tg, count) = TinyLlama.Batch(m, tokens);
        be.ResetPeakMemory();
        long baseline = be.MemoryInUse.Current;
        Tensor loss;
        using (var s = new TensorScope()) loss = s.Keep(m.Loss(ids, tg, 1f / count, ForwardContext.Inference));
        loss.Backward();
        loss.Dispose();
        long peak = be.MemoryInUse.Peak - baseline;
        var grads = m.Parameters.All.ToDictionary(p => p.Name, p => GradCheck.Values(p.Tensor.Grad!));
        return (grads, peak);
    }
}
