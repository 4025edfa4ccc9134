using Engine.Backends;
using Engine.Autograd;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Models;

/// <summary>Negative log-likelihood of texts: each text is its own sequence, BOS first, every next token scored once.
/// A sequence longer than the model's context is scored with a sliding window (as in Hugging Face's perplexity guide):
/// windows of the context length start every <c>context / 2</c> tokens; each window scores only the tokens that no
/// earlier window scored, so every token after BOS is scored exactly once with at least half a context of left context
/// (all of it in the first window). A sequence that fits the context is one window: the plain full-sequence score.</summary>
internal static class Perplexity
{
    public readonly record struct Score(long Tokens, double Nll)
    {
        public double MeanNll => Tokens > 0 ? Nll / Tokens : double.NaN;
        public double Ppl => Math.Exp(MeanNll);
    }

    /// <summary>One window over ids[Begin..End): it predicts ids[j] for FirstScored ≤ j &lt; End.</summary>
    public readonly record struct Window(int Begin, int End, int FirstScored);

    /// <summary>The stride between windows of <paramref name="context"/> tokens: half the context.</summary>
    public static int Stride(int context) => Math.Max(1, context / 2);

    /// <summary>The windows that score a sequence of <paramref name="length"/> ids (≥ 2) with the given context.</summary>
    public static List<Window> Windows(int length, int context)
    {
        if (context < 2) throw new EngineException($"the model's context ({context} tokens) must be at least 2 to score text");
        var windows = new List<Window>();
        int stride = Stride(context), prevEnd = 0;
        for (int begin = 0; ; begin += stride)
        {
            int end = Math.Min(begin + context, length);
            windows.Add(new Window(begin, end, Math.Max(prevEnd, begin + 1)));
            prevEnd = end;
            if (end == length) break;
        }
        return windows;
    }

    public static Score Evaluate(LlamaModel model, ITokenizer tokenizer, IEnumerable<string> texts, Action<int, Score>? perText = null)
    {
        var be = model.Backend;
        long tokens = 0;
        double nll = 0;
        int index = 0;
        int context = model.Config.MaxPositionEmbeddings;
        using var _ = GradMode.NoGrad();
        foreach (var text in texts)
        {
            var ids = new List<int>();
            if (tokenizer.AddBos) ids.Add(tokenizer.BosId); // a tokenizer without BOS (Qwen) scores from its second token
            ids.AddRange(tokenizer.Encode(text));
            if (ids.Count < 2) { index++; continue; }
            var all = ids.ToArray();
            long textTokens = 0;
            double textNll = 0;
            foreach (var w in Windows(all.Length, context))
            {
                int n = w.End - w.Begin;
                var targets = new int[n];
                for (int t = 0; t < n; t++)
                {
                    int j = w.Begin + t + 1;
                    targets[t] = j >= w.FirstScored && j < w.End ? all[j] : -100;
                }
                using var scope = new TensorScope();
                var x = be.FromInts(all[w.Begin..w.End], new Shape(1, n));
                var y = be.FromInts(targets, new Shape(n));
                textNll += model.Loss(x, y, 1f, ForwardContext.Inference).Item();
                textTokens += w.End - w.FirstScored;
            }
            perText?.Invoke(index++, new Score(textTokens, textNll));
            tokens += textTokens;
            nll += textNll;
        }
        return new Score(tokens, nll);
    }
}
