namespace Engine.Models;

/// <summary>HF transformers' tensor names for a Llama model: the canonical names engine uses everywhere
/// (checkpoints, PEFT adapters, --trainable patterns).</summary>
internal static class LlamaNames
{
    public const string Embed = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int i) => $"model.layers.{i}";
    public static string AttnNorm(int i) => $"model.layers.{i}.input_layernorm.weight";
    public static string FfnNorm(int i) => $"model.layers.{i}.post_attention_layernorm.weight";

    /// <summary>The seven projections, in the order PEFT lists them, with their module path inside a layer.</summary>
    public static readonly (string Short, string Path)[] Projections =
    {
        ("q_proj", "self_attn.q_proj"), ("k_proj", "self_attn.k_proj"), ("v_proj", "self_attn.v_proj"), ("o_proj", "self_attn.o_proj"),
        ("gate_proj", "mlp.gate_proj"), ("up_proj", "mlp.up_proj"), ("down_proj", "mlp.down_proj"),
    };

    public static string Projection(int layer, string shortName) =>
        $"model.layers.{layer}.{Projections.First(p => p.Short == shortName).Path}";

    public static string ProjectionWeight(int layer, string shortName) => Projection(layer, shortName) + ".weight";
    public static string ProjectionBias(int layer, string shortName) => Projection(layer, shortName) + ".bias";

    /// <summary>Qwen 3's per-head RMSNorm weights [head_dim] of q and k.</summary>
    public static string QNorm(int i) => $"model.layers.{i}.self_attn.q_norm.weight";
    public static string KNorm(int i) => $"model.layers.{i}.self_attn.k_norm.weight";
}
