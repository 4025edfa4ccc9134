using Engine.Api;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary><c>eval</c> on a block longer than the context: a sliding window (stride = context / 2) scores every token
/// once, checked against a brute-force float64 computation of the same windows.</summary>
public class SlidingWindowPerplexityTests
{
    [Theory]
    [InlineData(2, 2)]
    [InlineData(512, 512)]
    [InlineData(513, 512)]
    [InlineData(1300, 512)]
    [InlineData(1300, 7)]
    [InlineData(100, 3)]
    public void Every_token_after_bos_is_scored_exactly_once(int length, int context)
    {
        var count = new int[length];
        foreach (var w in Perplexity.Windows(length, context))
        {
            Assert.True(w.End - w.Begin <= context);
            for (int j = w.FirstScored; j < w.End; j++)
            {
                count[j]++;
                // Left context: all of it in the first window, else at least context - stride tokens.
                Assert.True(w.Begin == 0 || j - w.Begin >= context - Perplexity.Stride(context), $"token {j} in window {w}");
            }
        }
        Assert.Equal(0, count[0]);
        Assert.All(count[1..], c => Assert.Equal(1, c));
    }

    [Fact]
    public void A_long_block_matches_brute_force_float64_windows()
    {
        var modelPath = SharedData.Require("stories260K/stories260K.bin");
        // Several TinyStories joined into one block: well over 512 tokens.
        var stories = PlainTextReader.Read(File.ReadAllText(SharedData.Require("datasets/tinystories_validation_head.txt")));
        var block = string.Join("\n", stories.Take(12).Select(s => s.Text));

        using var loaded = ModelLoader.Load(modelPath, CpuBackend.Instance, new WeightOptions());
        var m = loaded.Model;
        var tok = loaded.Tokenizer!;
        int context = m.Config.MaxPositionEmbeddings;
        Assert.Equal(512, context);
        var ids = new[] { tok.BosId }.Concat(tok.Encode(block)).ToArray();
        Assert.True(ids.Length > 2 * context, $"{ids.Length} tokens");

        // Brute force, independent of Perplexity.Windows: token j is scored by the first window [k·s, k·s + C) that
        // reaches past it (HF's loop: begin_loc = k·stride, end_loc = min(begin_loc + C, n)), from that window's logits.
        int stride = context / 2, v = m.Config.VocabSize;
        double nll = 0;
        long scored = 0;
        var seen = new int[ids.Length];
        for (int k = 0; ; k++)
        {
            int begin = k * stride, end = Math.Min(begin + context, ids.Length);
            var window = ids[begin..end];
            var logits = Stories260KTests.FullLogits(m, window);
            for (int j = begin + 1; j < end; j++)
            {
                int firstWindowReaching = j < context ? 0 : (j - context) / stride + 1;
                if (firstWindowReaching != k) continue;
                int p = j - 1 - begin;
                double max = double.NegativeInfinity, sum = 0;
                for (int i = 0; i < v; i++) max = Math.Max(max, logits[p * v + i]);
                for (int i = 0; i < v; i++) sum += Math.Exp(logits[p * v + i] - max);
                nll += -(logits[p * v + ids[j]] - max - Math.Log(sum));
                scored++;
                seen[j]++;
            }
            if (end == ids.Length) break;
        }
        Assert.All(seen[1..], c => Assert.Equal(1, c));

        var score = Perplexity.Evaluate(m, tok, new[] { block });
        Assert.Equal(ids.Length - 1, score.Tokens);
        Assert.Equal(scored, score.Tokens);
        Assert.Equal(nll / scored, score.MeanNll, 1e-5);

        // Through the public API too.
        using var api = EngineModel.Load(modelPath, new ModelOptions { Device = "cpu" });
        var r = api.Evaluate(new[] { block });
        Assert.Equal(ids.Length - 1, r.PredictedTokens);
        Assert.Equal(nll / scored, r.MeanNll, 1e-5);
    }
}
