using Engine.Models;
namespace Engine.Checkpoints;

/// <summary>llama.cpp's tensor names (anchors-and-formats §7.3), mapped to HF names, for the tensors the config's family
/// has: the llama block, plus projection biases (blk.N.attn_q.bias …, as Qwen 2 and biased Llamas have) and Qwen 3's
/// per-head q/k norms (blk.N.attn_q_norm.weight, attn_k_norm.weight). The names are the same in llama.cpp's llama,
/// qwen2 and qwen3 architectures.</summary>
internal static class GgufNames
{
    /// <summary>llama.cpp's tensor of per-dimension RoPE frequency divisors (written for rope_type llama3).</summary>
    public const string RopeFreqs = "rope_freqs.weight";

    private static readonly Dictionary<string, string> Projection = new()
    {
        ["q_proj"] = "attn_q", ["k_proj"] = "attn_k", ["v_proj"] = "attn_v", ["o_proj"] = "attn_output",
        ["gate_proj"] = "ffn_gate", ["up_proj"] = "ffn_up", ["down_proj"] = "ffn_down",
    };

    /// <summary>llama.cpp's name of layer <paramref name="layer"/>'s projection weight (q_proj → blk.N.attn_q.weight),
    /// or null for a module llama.cpp has no projection name for.</summary>
    public static string? ProjectionWeight(int layer, string shortName) =>
        Projection.TryGetValue(shortName, out var g) ? $"blk.{layer}.{g}.weight" : null;

    public static IEnumerable<(string Hf, string Gguf)> Map(LlamaConfig c)
    {
        yield return (LlamaNames.Embed, "token_embd.weight");
        yield return (LlamaNames.FinalNorm, "output_norm.weight");
        yield return (LlamaNames.LmHead, "output.weight");
        for (int i = 0; i < c.NumLayers; i++)
        {
            yield return (LlamaNames.AttnNorm(i), $"blk.{i}.attn_norm.weight");
            yield return (LlamaNames.FfnNorm(i), $"blk.{i}.ffn_norm.weight");
            foreach (var (shortName, _) in LlamaNames.Projections)
            {
                yield return (LlamaNames.ProjectionWeight(i, shortName), $"blk.{i}.{Projection[shortName]}.weight");
                if (c.HasBias(shortName)) yield return (LlamaNames.ProjectionBias(i, shortName), $"blk.{i}.{Projection[shortName]}.bias");
            }
            if (c.HasQkNorm)
            {
                yield return (LlamaNames.QNorm(i), $"blk.{i}.attn_q_norm.weight");
                yield return (LlamaNames.KNorm(i), $"blk.{i}.attn_k_norm.weight");
            }
        }
    }
}
