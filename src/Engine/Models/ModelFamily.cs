namespace Engine.Models;

/// <summary>The decoder families engine runs. All are Llama-shaped (pre-norm, GQA, RoPE in HF's half-split layout,
/// SwiGLU); they differ in projection biases, q/k normalisation and the config.json fields that describe them.</summary>
internal enum ModelFamily
{
    /// <summary>LlamaForCausalLM / "llama": optional attention_bias (q/k/v/o) and mlp_bias (gate/up/down).</summary>
    Llama,
    /// <summary>MistralForCausalLM / "mistral": no biases; sliding_window applies to every layer.</summary>
    Mistral,
    /// <summary>Qwen2ForCausalLM / "qwen2" (Qwen 2 and 2.5): q/k/v biases always, none on o_proj.</summary>
    Qwen2,
    /// <summary>Qwen3ForCausalLM / "qwen3": per-head RMSNorm of q and k (q_norm, k_norm) before RoPE; optional
    /// attention_bias on q/k/v/o.</summary>
    Qwen3,
}

/// <summary>The names each family goes by in config.json and in llama.cpp.</summary>
internal static class ModelFamilies
{
    public static readonly ModelFamily[] All = [ModelFamily.Llama, ModelFamily.Mistral, ModelFamily.Qwen2, ModelFamily.Qwen3];

    /// <summary>config.json's architectures entry.</summary>
    public static string Architecture(this ModelFamily f) => f switch
    {
        ModelFamily.Llama => "LlamaForCausalLM",
        ModelFamily.Mistral => "MistralForCausalLM",
        ModelFamily.Qwen2 => "Qwen2ForCausalLM",
        ModelFamily.Qwen3 => "Qwen3ForCausalLM",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    /// <summary>config.json's model_type.</summary>
    public static string ModelType(this ModelFamily f) => f switch
    {
        ModelFamily.Llama => "llama",
        ModelFamily.Mistral => "mistral",
        ModelFamily.Qwen2 => "qwen2",
        ModelFamily.Qwen3 => "qwen3",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    /// <summary>llama.cpp's general.architecture as convert_hf_to_gguf.py writes it: Mistral is converted as "llama".</summary>
    public static string GgufArchitecture(this ModelFamily f) => f switch
    {
        ModelFamily.Llama or ModelFamily.Mistral => "llama",
        ModelFamily.Qwen2 => "qwen2",
        ModelFamily.Qwen3 => "qwen3",
        _ => throw new ArgumentOutOfRangeException(nameof(f), f, null),
    };

    public static ModelFamily? FromModelType(string modelType) => All.Cast<ModelFamily?>().FirstOrDefault(f => f!.Value.ModelType() == modelType);
    public static ModelFamily? FromArchitecture(string arch) => All.Cast<ModelFamily?>().FirstOrDefault(f => f!.Value.Architecture() == arch);
}
