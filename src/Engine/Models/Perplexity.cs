using Engine.Backends;
using Engine.Autograd;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Models;

/// <summary>Negative log-likelihood of texts: each text is its own sequence, BOS first, truncated to the model's
/// context, every next token scored.</summary>
internal static class Perplexity
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
        foreach (var text in texts)
        {
            var ids = new List<int> { tokenizer.BosId };
            ids.AddRange(tokenizer.Encode(text));
            if (ids.Count > model.Config.MaxPositionEmbeddings) ids.RemoveRange(model.Config.MaxPositionEmbeddings, ids.Count - model.Config.MaxPositionEmbeddings);
            if (ids.Count < 2) { index++; continue; }
            var targets = LlamaModel.NextTokenTargets(ids.ToArray(), ids.Count);
            double sum;
            using (var scope = new TensorScope())
            {
                var x = be.FromInts(ids.ToArray(), new Shape(1, ids.Count));
                var y = be.FromInts(targets, new Shape(ids.Count));
                sum = model.Loss(x, y, 1f, ForwardContext.Inference).Item();
            }
            perText?.Invoke(index++, new Score(ids.Count - 1, sum));
            tokens += ids.Count - 1;
            nll += sum;
        }
        return new Score(tokens, nll);
    }
}
