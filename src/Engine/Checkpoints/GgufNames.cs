using Engine.Models;
namespace Engine.Checkpoints;

/// <summary>llama.cpp's tensor names for the llama architecture, mapped to HF names (anchors-and-formats §7.3).</summary>
internal static class GgufNames
{
    public static IEnumerable<(string Hf, string Gguf)> Map(LlamaConfig c)
    {
        yield return (LlamaNames.Embed, "token_embd.weight");
        yield return (LlamaNames.FinalNorm, "output_norm.weight");
        yield return (LlamaNames.LmHead, "output.weight");
        for (int i = 0; i < c.NumLayers; i++)
        {
            yield return (LlamaNames.AttnNorm(i), $"blk.{i}.attn_norm.weight");
            yield return (LlamaNames.FfnNorm(i), $"blk.{i}.ffn_norm.weight");
            yield return (LlamaNames.ProjectionWeight(i, "q_proj"), $"blk.{i}.attn_q.weight");
            yield return (LlamaNames.ProjectionWeight(i, "k_proj"), $"blk.{i}.attn_k.weight");
            yield return (LlamaNames.ProjectionWeight(i, "v_proj"), $"blk.{i}.attn_v.weight");
            yield return (LlamaNames.ProjectionWeight(i, "o_proj"), $"blk.{i}.attn_output.weight");
            yield return (LlamaNames.ProjectionWeight(i, "gate_proj"), $"blk.{i}.ffn_gate.weight");
            yield return (LlamaNames.ProjectionWeight(i, "up_proj"), $"blk.{i}.ffn_up.weight");
            yield return (LlamaNames.ProjectionWeight(i, "down_proj"), $"blk.{i}.ffn_down.weight");
        }
    }
}
