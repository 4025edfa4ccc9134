using System.Text.Json.Nodes;
using Engine.Formats;
using Engine.Tensors;

namespace Engine.Tests.Models;

/// <summary>A tiny model of one family as the test states it, independently of engine's LlamaConfig: the numbers
/// config.json carries and what the architecture implies (which projections have biases, q/k norms), from which the
/// test writes an HF folder by hand and computes <see cref="FamilyReference"/>'s float64 forward.</summary>
internal sealed record FamilySpec
{
    public required string ModelType { get; init; }
    public required string Architecture { get; init; }
    public int Hidden { get; init; } = 32;
    public int Intermediate { get; init; } = 48;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    /// <summary>Written as head_dim when set; else hidden / heads.</summary>
    public int? HeadDimField { get; init; }
    public int Vocab { get; init; } = 512;
    public double Eps { get; init; } = 1e-6;
    public double Theta { get; init; } = 10000;
    public int MaxPositions { get; init; } = 64;
    public bool Tie { get; init; }
    public JsonObject? RopeScaling { get; init; }
    /// <summary>Extra config.json fields (attention_bias, sliding_window …).</summary>
    public JsonObject Extra { get; init; } = new();
    // What the architecture implies (HF modeling_*.py):
    public bool QkvBias { get; init; }
    public bool OBias { get; init; }
    public bool MlpBias { get; init; }
    public bool QkNorm { get; init; }

    public int HeadDim => HeadDimField ?? Hidden / Heads;

    public static FamilySpec Llama3(bool tie = true) => new()
    {
        ModelType = "llama", Architecture = "LlamaForCausalLM", Tie = tie, Theta = 500000, MaxPositions = 512,
        // An original context of 256 puts the four rotary pairs of an 8-wide head (wavelengths 6.3, 167, 4443, 118142)
        // in all three llama3 bands: kept (< 64), smoothed (64..256) and divided by the factor (> 256).
        RopeScaling = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 256 },
        Extra = new JsonObject { ["eos_token_id"] = new JsonArray(2, 5, 7) },
    };

    public static FamilySpec LlamaBiased() => new()
    {
        ModelType = "llama", Architecture = "LlamaForCausalLM", QkvBias = true, OBias = true, MlpBias = true,
        RopeScaling = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 },
        Extra = new JsonObject { ["attention_bias"] = true, ["mlp_bias"] = true },
    };

    public static FamilySpec LlamaAttentionBias() => LlamaBiased() with
    {
        MlpBias = false, Extra = new JsonObject { ["attention_bias"] = true, ["mlp_bias"] = false },
    };

    public static FamilySpec Mistral() => new()
    {
        ModelType = "mistral", Architecture = "MistralForCausalLM", Theta = 1000000,
        Extra = new JsonObject { ["sliding_window"] = null },
    };

    public static FamilySpec Qwen2() => new()
    {
        ModelType = "qwen2", Architecture = "Qwen2ForCausalLM", QkvBias = true, Tie = true, Theta = 1000000,
        Extra = new JsonObject { ["use_sliding_window"] = false, ["sliding_window"] = 32768, ["max_window_layers"] = 1 },
    };

    public static FamilySpec Qwen2Yarn() => Qwen2() with
    {
        Tie = false,
        RopeScaling = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0, ["original_max_position_embeddings"] = 4096 },
    };

    /// <summary>head_dim 16 with hidden 32 and 4 heads: q is 64 wide, not hidden.</summary>
    public static FamilySpec Qwen3(bool attentionBias = false) => new()
    {
        ModelType = "qwen3", Architecture = "Qwen3ForCausalLM", HeadDimField = 16, QkNorm = true, Tie = true, Theta = 1000000,
        QkvBias = attentionBias, OBias = attentionBias,
        Extra = new JsonObject { ["attention_bias"] = attentionBias, ["use_sliding_window"] = false, ["sliding_window"] = null, ["max_window_layers"] = 2 },
    };

    public JsonObject ConfigJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture), ["model_type"] = ModelType,
            ["hidden_size"] = Hidden, ["intermediate_size"] = Intermediate, ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads, ["num_key_value_heads"] = KvHeads, ["vocab_size"] = Vocab,
            ["rms_norm_eps"] = Eps, ["rope_theta"] = Theta, ["max_position_embeddings"] = MaxPositions,
            ["tie_word_embeddings"] = Tie, ["hidden_act"] = "silu", ["bos_token_id"] = 1, ["eos_token_id"] = 2,
            ["rope_scaling"] = RopeScaling?.DeepClone(),
        };
        if (HeadDimField is int hd) o["head_dim"] = hd;
        foreach (var (k, v) in Extra) o[k] = v?.DeepClone();
        return o;
    }

    /// <summary>Every tensor of the checkpoint with its shape, under HF names.</summary>
    public IEnumerable<(string Name, int[] Shape)> Tensors()
    {
        int q = Heads * HeadDim, kv = KvHeads * HeadDim;
        yield return ("model.embed_tokens.weight", [Vocab, Hidden]);
        for (int i = 0; i < Layers; i++)
        {
            var p = $"model.layers.{i}";
            yield return ($"{p}.input_layernorm.weight", [Hidden]);
            yield return ($"{p}.post_attention_layernorm.weight", [Hidden]);
            foreach (var (n, o, inF) in new[] { ("q_proj", q, Hidden), ("k_proj", kv, Hidden), ("v_proj", kv, Hidden), ("o_proj", Hidden, q) })
            {
                yield return ($"{p}.self_attn.{n}.weight", [o, inF]);
                if (n == "o_proj" ? OBias : QkvBias) yield return ($"{p}.self_attn.{n}.bias", [o]);
            }
            if (QkNorm)
            {
                yield return ($"{p}.self_attn.q_norm.weight", [HeadDim]);
                yield return ($"{p}.self_attn.k_norm.weight", [HeadDim]);
            }
            foreach (var (n, o, inF) in new[] { ("gate_proj", Intermediate, Hidden), ("up_proj", Intermediate, Hidden), ("down_proj", Hidden, Intermediate) })
            {
                yield return ($"{p}.mlp.{n}.weight", [o, inF]);
                if (MlpBias) yield return ($"{p}.mlp.{n}.bias", [o]);
            }
        }
        yield return ("model.norm.weight", [Hidden]);
        if (!Tie) yield return ("lm_head.weight", [Vocab, Hidden]);
    }

    /// <summary>Random weights: norms 1 ± 0.2, biases and matrices normal(0, std), the embedding normal(0, 1).</summary>
    public Dictionary<string, float[]> RandomWeights(ulong seed, double std = 0.15)
    {
        var rng = new Rng(seed);
        var w = new Dictionary<string, float[]>();
        foreach (var (name, shape) in Tensors())
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                rng.FillNormal(data, 0, 0.2);
                for (int i = 0; i < data.Length; i++) data[i] += 1;
            }
            else rng.FillNormal(data, 0, name.Contains("embed") || name.Contains("lm_head") ? 1.0 : name.EndsWith(".bias") ? 0.3 : std);
            w[name] = data;
        }
        return w;
    }

    /// <summary>Writes config.json and model.safetensors (f32) into <paramref name="dir"/>, as a user's download would be.</summary>
    public void WriteHfFolder(string dir, Dictionary<string, float[]> weights)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson().ToJsonString());
        var w = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var (name, shape) in Tensors()) w.AddFloats(name, shape, weights[name]);
        w.Write(Path.Combine(dir, "model.safetensors"));
    }
}
