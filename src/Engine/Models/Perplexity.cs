using Engine.Autograd;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Models;

/// <summary>Negative log-likelihood of texts: each text is its own sequence, BOS first, truncated to the model's
/// context, every next token scored.</summary>
public static class Perplexity
{
    public readonly record struct Score(long Tokens, double Nll)
    {
        public double MeanNll => Tokens > 0 ? Nll / Tokens : double.NaN;
        public double Ppl => Math.Exp(MeanNll);
    }

    public static Score Evaluate(LlamaModel model, ITokenizer tokenizer, IEnumerable<string> texts, Action<int, Score>? perText = null)
    {
        var be = model.Backend;
        long tokens = 0;
        double nll = 0;
        int index = 0;
        using var _ = GradMode.NoGrad();
        var one = new float[1];
        foreach (var text in texts)
        {
            var ids = new List<int> { tokenizer.BosId };
            ids.AddRange(tokenizer.Encode(text));
            if (ids.Count > model.Config.MaxPositionEmbeddings) ids.RemoveRange(model.Config.MaxPositionEmbeddings, ids.Count - model.Config.MaxPositionEmbeddings);
            if (ids.Count < 2) { index++; continue; }
            var targets = new int[ids.Count];
            for (int t = 0; t < ids.Count; t++) targets[t] = t + 1 < ids.Count ? ids[t + 1] : -100;
            double sum;
            using (var scope = new TensorScope())
            {
                var x = be.FromInts(ids.ToArray(), new Shape(1, ids.Count));
                var y = be.FromInts(targets, new Shape(ids.Count));
                var loss = model.Loss(x, y, 1f, ForwardContext.Inference);
                be.ToFloats(loss, one);
                sum = one[0];
            }
            perText?.Invoke(index++, new Score(ids.Count - 1, sum));
            tokens += ids.Count - 1;
            nll += sum;
        }
        return new Score(tokens, nll);
    }
}
