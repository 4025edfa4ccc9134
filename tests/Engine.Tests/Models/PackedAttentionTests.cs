using Engine.Autograd;
using Engine.Backends;
using Engine.Data;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>Packing without leaks and sliding-window attention through the whole model on the CPU backend: a packed
/// row trains exactly as its samples do alone (loss and every gradient), a windowed model's logits equal an
/// independent float64 forward, and KV-cache decoding under a window equals the full forward.</summary>
public sealed class PackedAttentionTests
{
    private const int I = EncodedSample.IgnoreIndex;

    [Theory]
    [InlineData(0, false)]
    [InlineData(4, false)] // a window shorter than some samples
    [InlineData(4, true)]  // gradient checkpointing recomputes the layers with the same mask
    public void A_packed_row_gives_the_loss_and_gradients_of_its_samples_each_in_its_own_row(int window, bool checkpointing)
    {
        var c = TinyLlama.Config(hidden: 16, heads: 4, kvHeads: 2, inter: 24, vocab: 23, ctx: 32) with { SlidingWindow = window == 0 ? null : window };
        var rng = new Rng(17);
        var samples = new[] { 5, 7, 3, 6 }.Select((len, n) =>
        {
            var ids = new int[len];
            for (int t = 0; t < len; t++) ids[t] = t == 0 ? 1 : 2 + rng.NextInt(c.VocabSize - 2);
            return new EncodedSample(ids, ids.Select((x, t) => t < 2 ? I : x).ToArray(), n); // prompt of 2 tokens, no loss
        }).ToArray();

        var single = Batch.Collate(samples.Select(s => TrainingSequence.FromSample(s)).ToList(), padId: 0, new LoaderPosition(0, 0));
        Assert.Null(single.SegmentStarts);
        var packedRows = SequencePacker.Pack(samples, windowLength: 21, out _);
        var packed = Batch.Collate(packedRows, padId: 0, new LoaderPosition(0, 0));
        Assert.Equal(1, packed.BatchSize);
        Assert.Equal(21, packed.SeqLen);
        Assert.Equal(single.LearnedTokens, packed.LearnedTokens);

        var (lossSingle, gradSingle) = LossAndGrads(c, single, single.SegmentStarts, checkpointing);
        var (lossPacked, gradPacked) = LossAndGrads(c, packed, packed.SegmentStarts, checkpointing);
        Assert.True(Math.Abs(lossPacked - lossSingle) <= 1e-5 * Math.Abs(lossSingle), $"loss {lossPacked} packed vs {lossSingle} alone");
        foreach (var (name, a) in gradSingle)
        {
            var b = gradPacked[name];
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * (1 + Math.Abs(a[i])), $"{name}[{i}]: {b[i]} packed vs {a[i]} alone");
        }

        // The same row without its segment starts (samples attending to each other, positions running on) is different:
        // the comparison above can fail.
        var (lossLeaky, _) = LossAndGrads(c, packed, null, checkpointing);
        Assert.True(Math.Abs(lossLeaky - lossSingle) > 1e-3 * Math.Abs(lossSingle), $"leaky packing gave the same loss {lossLeaky}");
    }

    private static (double Loss, Dictionary<string, float[]> Grads) LossAndGrads(LlamaConfig c, Batch batch, int[]? starts, bool checkpointing)
    {
        using var m = TinyLlama.Create(c, seed: 3, std: 0.3);
        m.GradientCheckpointing = checkpointing;
        var be = m.Backend;
        Tensor loss;
        using (var s = new TensorScope())
        {
            var ids = be.FromInts(batch.InputIds, new Shape(batch.BatchSize, batch.SeqLen));
            var targets = be.FromInts(batch.Targets, new Shape(batch.BatchSize * batch.SeqLen));
            loss = s.Keep(m.Loss(ids, targets, 1f, new ForwardContext(true, 1), starts));
        }
        double value = loss.Item();
        loss.Backward();
        loss.Dispose();
        return (value, m.Parameters.All.ToDictionary(p => p.Name, p => GradCheck.Values(p.Tensor.Grad!)));
    }

    [Fact]
    public void A_sliding_window_model_matches_a_float64_forward()
    {
        // Layer 0 keeps full attention (Qwen 2's max_window_layers), layer 1 sees the last 3 positions.
        var c = TinyLlama.Config(hidden: 16, heads: 4, kvHeads: 2, inter: 24, vocab: 19, ctx: 32) with { SlidingWindow = 3, FirstWindowLayer = 1 };
        using var m = TinyLlama.Create(c, seed: 5, trainable: false);
        int[] seq = { 1, 7, 3, 12, 5, 5, 9, 14, 2, 8, 11 };
        var got = Integration.Stories260KTests.FullLogits(m, seq);
        var want = Float64Llama.Logits(m, seq, Enumerable.Range(0, seq.Length).ToArray(),
            (l, t, j) => j <= t && (l < 1 || t - j < 3));
        AssertLogits(want, got);

        // The window matters: the same weights with full attention everywhere give other logits.
        var full = Float64Llama.Logits(m, seq, Enumerable.Range(0, seq.Length).ToArray(), (_, t, j) => j <= t);
        Assert.True(Math.Abs(full[seq.Length - 1, 0] - want[seq.Length - 1, 0]) > 1e-4, "the window changed nothing");
    }

    [Fact]
    public void A_packed_row_matches_a_float64_forward_of_each_sample_alone()
    {
        var c = TinyLlama.Config(hidden: 16, heads: 4, kvHeads: 2, inter: 24, vocab: 19, ctx: 32) with { SlidingWindow = 4 };
        using var m = TinyLlama.Create(c, seed: 6, trainable: false);
        int[] a = { 1, 4, 9, 3, 3, 12, 6 }, b = { 1, 15, 2, 8, 10 };
        var row = a.Concat(b).ToArray();
        var starts = Enumerable.Repeat(0, a.Length).Concat(Enumerable.Repeat(a.Length, b.Length)).ToArray();
        float[] got;
        using (GradMode.NoGrad())
        using (var s = new TensorScope())
        {
            var be = m.Backend;
            var hidden = m.Forward(be.FromInts(row, new Shape(1, row.Length)), m.PackedPositions(starts, row.Length), ForwardContext.Inference,
                                   null, be.FromInts(starts, new Shape(row.Length)));
            var logits = m.Logits(hidden);
            got = new float[logits.NumElements];
            be.ToFloats(logits, got);
        }
        int v = c.VocabSize;
        foreach (var (sample, offset) in new[] { (a, 0), (b, a.Length) })
        {
            var want = Float64Llama.Logits(m, sample, Enumerable.Range(0, sample.Length).ToArray(), (_, t, j) => j <= t && t - j < 4);
            AssertLogits(want, got.AsSpan(offset * v, sample.Length * v).ToArray());
        }
    }

    [Fact]
    public void Kv_cache_decoding_under_a_window_matches_the_full_forward()
    {
        var c = TinyLlama.Config(vocab: 13) with { SlidingWindow = 3 };
        using var m = TinyLlama.Create(c, trainable: false);
        int[] seq = { 1, 5, 8, 2, 11, 4, 0, 7, 9 };
        var full = Integration.Stories260KTests.FullLogits(m, seq);
        var gen = new Generator(m);
        using var cache = new KvCache(m.Backend, c, 16);
        var prefill = gen.Step(cache, seq[..4]); // a prompt longer than the window
        AssertClose(full.AsSpan(3 * c.VocabSize, c.VocabSize), prefill);
        for (int t = 4; t < seq.Length; t++)
            AssertClose(full.AsSpan(t * c.VocabSize, c.VocabSize), gen.Step(cache, new[] { seq[t] }));
    }

    private static void AssertLogits(double[,] want, float[] got)
    {
        int v = want.GetLength(1);
        Assert.Equal(want.Length, got.Length);
        for (int t = 0; t < want.GetLength(0); t++)
            for (int i = 0; i < v; i++)
                Assert.True(Math.Abs(got[t * v + i] - want[t, i]) <= 1e-5 * (1 + Math.Abs(want[t, i])), $"position {t} token {i}: {got[t * v + i]} vs float64 {want[t, i]}");
    }

    private static void AssertClose(ReadOnlySpan<float> expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"logit {i}: {expected[i]} vs {actual[i]}");
    }
}
