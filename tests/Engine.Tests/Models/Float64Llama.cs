using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary><see cref="FamilyReference"/>'s independent float64 forward for an in-memory Llama model (weights read back
/// by HF name), with explicit positions and an explicit visibility predicate, so masks are checked against a plain
/// rule. The model must be a plain Llama (no biases, no q/k norm, no RoPE scaling).</summary>
internal static class Float64Llama
{
    /// <summary>Logits [T, V] of <paramref name="ids"/> at <paramref name="positions"/>; in layer l, query t attends key j
    /// iff <paramref name="sees"/>(l, t, j).</summary>
    public static double[,] Logits(LlamaModel m, int[] ids, int[] positions, Func<int, int, int, bool> sees)
    {
        var c = m.Config;
        if (c.Family != ModelFamily.Llama || c.AttentionBias || c.MlpBias || c.RopeScaling is not null)
            throw new ArgumentException("Float64Llama covers plain Llama models; use FamilyReference with a FamilySpec for the others");
        var spec = new FamilySpec
        {
            ModelType = "llama", Architecture = "LlamaForCausalLM", Hidden = c.HiddenSize, Intermediate = c.IntermediateSize,
            Layers = c.NumLayers, Heads = c.NumHeads, KvHeads = c.NumKvHeads, HeadDimField = c.HeadDim, Vocab = c.VocabSize,
            Eps = c.RmsNormEps, Theta = c.RopeTheta, MaxPositions = c.MaxPositionEmbeddings, Tie = m.TiedEmbeddings,
        };
        var weights = spec.Tensors().ToDictionary(t => t.Name, t => GradCheck.Values(m.Parameters[t.Name]));
        var flat = FamilyReference.Logits(spec, weights, ids, positions, sees);
        int v = c.VocabSize;
        var r = new double[ids.Length, v];
        for (int t = 0; t < ids.Length; t++)
            for (int j = 0; j < v; j++) r[t, j] = flat[t * v + j];
        return r;
    }
}
