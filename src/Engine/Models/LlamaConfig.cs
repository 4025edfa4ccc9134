using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Models;

/// <summary>Decoder hyper-parameters of the Llama-shaped families (<see cref="ModelFamily"/>), with HF config.json names
/// and defaults.</summary>
internal sealed record LlamaConfig
{
    public ModelFamily Family { get; init; } = ModelFamily.Llama;
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumLayers { get; init; }
    public int NumHeads { get; init; }
    public int NumKvHeads { get; init; }
    public int HeadDim { get; init; }
    public int VocabSize { get; init; }
    public float RmsNormEps { get; init; } = 1e-6f;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>rope_scaling; null for rope_type "default".</summary>
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>attention_bias (Llama, Qwen 3): biases on q/k/v/o.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>mlp_bias (Llama): biases on gate/up/down.</summary>
    public bool MlpBias { get; init; }
    public int BosTokenId { get; init; } = 1;
    /// <summary>The main end-of-sequence id (the first when config.json lists several).</summary>
    public int EosTokenId { get; init; } = 2;
    /// <summary>Every end-of-sequence id config.json lists (Llama 3.1: 128001, 128008, 128009); null: just
    /// <see cref="EosTokenId"/>.</summary>
    public TokenIdList? EosTokenIdList { get; init; }
    public int? PadTokenId { get; init; }

    /// <summary>Sliding-window attention: each query sees at most this many keys (itself included), in the layers
    /// <see cref="WindowOf"/> names; null: full causal attention everywhere.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Layers below this index keep full attention when <see cref="SlidingWindow"/> is set (Qwen 2's
    /// max_window_layers); 0 for Mistral, whose window applies to every layer.</summary>
    public int FirstWindowLayer { get; init; }

    /// <summary>The attention window of layer <paramref name="layer"/>: a positive key count, or 0 for unlimited.</summary>
    public int WindowOf(int layer) => SlidingWindow is int w && layer >= FirstWindowLayer ? w : 0;

    public IReadOnlyList<int> EosTokenIds => EosTokenIdList?.Ids ?? [EosTokenId];

    public int QDim => NumHeads * HeadDim;
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>Whether projection <paramref name="shortName"/> (q_proj … down_proj) has a bias: Qwen 2's q/k/v always,
    /// attention_bias's q/k/v/o, mlp_bias's gate/up/down.</summary>
    public bool HasBias(string shortName) => shortName switch
    {
        "q_proj" or "k_proj" or "v_proj" => AttentionBias || Family == ModelFamily.Qwen2,
        "o_proj" => AttentionBias,
        _ => MlpBias,
    };

    /// <summary>Qwen 3's per-head RMSNorm of q and k before RoPE.</summary>
    public bool HasQkNorm => Family == ModelFamily.Qwen3;

    /// <summary>Checks the numbers fit together; <paramref name="source"/> names the file in the error.</summary>
    public LlamaConfig Validate(string source)
    {
        void Positive(int v, string field)
        {
            if (v <= 0) throw new FileFormatException(source, field, $"must be a positive integer, got {v}");
        }
        Positive(HiddenSize, "hidden_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(NumLayers, "num_hidden_layers");
        Positive(NumHeads, "num_attention_heads");
        Positive(NumKvHeads, "num_key_value_heads");
        Positive(HeadDim, "head_dim");
        Positive(VocabSize, "vocab_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumHeads % NumKvHeads != 0)
            throw new FileFormatException(source, "num_key_value_heads", $"{NumKvHeads} does not divide num_attention_heads {NumHeads}");
        if (HeadDim % 2 != 0) throw new FileFormatException(source, "head_dim", $"rotary embedding needs an even head size, got {HeadDim}");
        if (!(RmsNormEps > 0)) throw new FileFormatException(source, "rms_norm_eps", $"must be positive, got {RmsNormEps}");
        if (!(RopeTheta > 0)) throw new FileFormatException(source, "rope_theta", $"must be positive, got {RopeTheta}");
        if (SlidingWindow is int w && w <= 0) throw new FileFormatException(source, "sliding_window", $"must be a positive integer or null, got {w}");
        if (FirstWindowLayer < 0) throw new FileFormatException(source, "max_window_layers", $"must not be negative, got {FirstWindowLayer}");
        return this;
    }

    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, layer = d * QDim + 2 * d * KvDim + QDim * d + 3 * d * IntermediateSize + 2 * d;
            foreach (var (shortName, _) in LlamaNames.Projections)
                if (HasBias(shortName)) layer += shortName switch { "q_proj" => QDim, "k_proj" or "v_proj" => KvDim, "o_proj" or "down_proj" => d, _ => IntermediateSize };
            if (HasQkNorm) layer += 2 * HeadDim;
            return VocabSize * d * (TieWordEmbeddings ? 1 : 2) + NumLayers * layer + d;
        }
    }

    /// <summary>Reads an HF config.json. Required: hidden_size, intermediate_size, num_hidden_layers,
    /// num_attention_heads, vocab_size; the rest default as in transformers' config class of the family.</summary>
    public static LlamaConfig FromHfJson(string path) => FromHfJson(Formats.JsonText.ReadObject(path), path);

    public static LlamaConfig FromHfJson(JsonObject o, string path)
    {
        var family = RequireSupported(o, path);
        int hidden = Int(o, "hidden_size", path, null);
        int heads = Int(o, "num_attention_heads", path, null);
        int layers = Int(o, "num_hidden_layers", path, null);
        int derivedHeadDim = heads > 0 ? hidden / heads : 0;
        int headDim = Int(o, "head_dim", path, family == ModelFamily.Qwen3 ? 128 : derivedHeadDim);
        if (family == ModelFamily.Qwen2 && headDim != derivedHeadDim)
            throw new FileFormatException(path, "head_dim", $"Qwen2's head size is hidden_size / num_attention_heads = {derivedHeadDim} (transformers ignores head_dim); got {headDim}");
        var (rope, theta) = ReadRope(o, path);
        var eos = TokenIds(o, "eos_token_id", path);
        var (window, firstWindowLayer) = ReadSlidingWindow(o, path, family, layers);
        var c = new LlamaConfig
        {
            Family = family,
            HiddenSize = hidden,
            IntermediateSize = Int(o, "intermediate_size", path, null),
            NumLayers = layers,
            NumHeads = heads,
            NumKvHeads = Int(o, "num_key_value_heads", path, heads),
            HeadDim = headDim,
            VocabSize = Int(o, "vocab_size", path, null),
            RmsNormEps = JsonFields.Float(o, "rms_norm_eps", path, 1e-6f),
            RopeTheta = theta,
            RopeScaling = rope,
            // transformers' defaults: LlamaConfig 2048, MistralConfig 4096·32, Qwen2Config/Qwen3Config 32768.
            MaxPositionEmbeddings = Int(o, "max_position_embeddings", path, family switch
            {
                ModelFamily.Mistral => 131072, ModelFamily.Qwen2 or ModelFamily.Qwen3 => 32768, _ => 2048,
            }),
            TieWordEmbeddings = JsonFields.Bool(o, "tie_word_embeddings", path, false),
            AttentionBias = family is ModelFamily.Llama or ModelFamily.Qwen3 && JsonFields.Bool(o, "attention_bias", path, false),
            MlpBias = family == ModelFamily.Llama && JsonFields.Bool(o, "mlp_bias", path, false),
            BosTokenId = TokenIds(o, "bos_token_id", path) is { Length: > 0 } bos ? bos[0] : 1,
            EosTokenId = eos is { Length: > 0 } ? eos[0] : 2,
            EosTokenIdList = eos is { Length: > 1 } ? new TokenIdList(eos) : null,
            PadTokenId = TokenIds(o, "pad_token_id", path) is { Length: > 0 } pad ? pad[0] : null,
            SlidingWindow = window,
            FirstWindowLayer = firstWindowLayer,
        };
        return c.Validate(path);
    }

    /// <summary>rope_theta and rope_scaling, or transformers 5's rope_parameters (which holds both).</summary>
    private static (RopeScaling?, float Theta) ReadRope(JsonObject o, string path)
    {
        if (o["rope_parameters"] is JsonObject rp)
        {
            if (o["rope_scaling"] is { } rs && rs.GetValueKind() != JsonValueKind.Null)
                throw new FileFormatException(path, "rope_scaling", "set together with rope_parameters; expected one of them");
            float t = o["rope_theta"] is { } top && top.GetValueKind() != JsonValueKind.Null
                ? JsonFields.Float(o, "rope_theta", path, 10000f)
                : JsonFields.Float(rp, "rope_theta", path, 10000f);
            return (RopeScaling.FromHfJson(rp, path, "rope_parameters", "rope_theta"), t);
        }
        return (RopeScaling.FromHfJson(o["rope_scaling"], path), JsonFields.Float(o, "rope_theta", path, 10000f));
    }

    /// <summary>The attention window as transformers' configs define it. Mistral: sliding_window (default 4096, null
    /// for none) on every layer. Qwen 2/3: sliding_window only when use_sliding_window is true, on layers with index
    /// ≥ max_window_layers (layer_types' default), or as an explicit layer_types list. Llama has no window.</summary>
    private static (int? Window, int FirstLayer) ReadSlidingWindow(JsonObject o, string path, ModelFamily family, int layers)
    {
        int? Window(int? fallback)
        {
            if (!o.ContainsKey("sliding_window")) return fallback; // JSON null is kept as a key with a null value
            var n = o["sliding_window"];
            if (n is null || n.GetValueKind() == JsonValueKind.Null) return null;
            return Int(o, "sliding_window", path, null);
        }
        switch (family)
        {
            case ModelFamily.Mistral:
                RefuseLayerTypes(o, path, family);
                return (Window(4096), 0);
            case ModelFamily.Qwen2 or ModelFamily.Qwen3:
            {
                bool use = JsonFields.Bool(o, "use_sliding_window", path, false);
                int? window = Window(4096);
                int maxWindowLayers = Int(o, "max_window_layers", path, 28);
                if (o["layer_types"] is JsonArray types)
                {
                    if (types.Count != layers)
                        throw new FileFormatException(path, "layer_types", $"has {types.Count} entries for {layers} layers");
                    var kinds = types.Select((t, i) => t?.GetValueKind() == JsonValueKind.String && t.GetValue<string>() is "full_attention" or "sliding_attention"
                        ? t.GetValue<string>() == "sliding_attention"
                        : throw new FileFormatException(path, $"layer_types[{i}]", $"expected \"full_attention\" or \"sliding_attention\", got {t?.ToJsonString() ?? "null"}")).ToArray();
                    int first = Array.IndexOf(kinds, true);
                    if (first < 0) return (null, 0);
                    if (kinds.Skip(first).Any(k => !k))
                        throw new FileFormatException(path, "layer_types", "sliding layers must all follow the full-attention ones (engine windows layers from one index on)");
                    if (!use || window is null)
                        throw new FileFormatException(path, "layer_types", "names sliding_attention layers but use_sliding_window is false or sliding_window is null");
                    return (window, first);
                }
                if (o["layer_types"] is { } other && other.GetValueKind() != JsonValueKind.Null)
                    throw new FileFormatException(path, "layer_types", $"expected a list, got {other.ToJsonString()}");
                if (!use || window is null || maxWindowLayers >= layers) return (null, 0);
                return (window, Math.Max(0, maxWindowLayers));
            }
            default:
                RefuseLayerTypes(o, path, family);
                if (o["sliding_window"] is { } sw && sw.GetValueKind() != JsonValueKind.Null)
                    throw new FileFormatException(path, "sliding_window", $"Llama models have no sliding window; got {sw.ToJsonString()}");
                return (null, 0);
        }
    }

    private static void RefuseLayerTypes(JsonObject o, string path, ModelFamily family)
    {
        if (o["layer_types"] is JsonArray a && a.Any(t => t?.GetValueKind() != JsonValueKind.String || t.GetValue<string>() != "full_attention"))
            throw new FileFormatException(path, "layer_types", $"{family.Architecture()} in engine supports only \"full_attention\" layers here");
    }

    /// <summary>Refuses, by name, every config.json field that would change the model's function in a way engine does
    /// not implement: another architecture, an activation other than SiLU, biases a family does not have, partial
    /// rotary, attention dropout. Returns the family that architectures/model_type name (Llama when neither is given).</summary>
    private static ModelFamily RequireSupported(JsonObject o, string path)
    {
        string Expected() => string.Join(", ", ModelFamilies.All.Select(f => f.Architecture()));
        ModelFamily? family = null;
        var mt = o["model_type"];
        if (mt is not null && mt.GetValueKind() != JsonValueKind.Null)
        {
            family = mt.GetValueKind() == JsonValueKind.String ? ModelFamilies.FromModelType(mt.GetValue<string>()) : null;
            if (family is null)
                throw new FileFormatException(path, "model_type",
                    $"engine runs {string.Join(", ", ModelFamilies.All.Select(f => $"\"{f.ModelType()}\""))} models; got {mt.ToJsonString()}");
        }
        switch (o["architectures"])
        {
            case null: break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Null: break;
            case JsonArray a:
                foreach (var item in a)
                {
                    var f = item?.GetValueKind() == JsonValueKind.String ? ModelFamilies.FromArchitecture(item.GetValue<string>()) : null;
                    if (f is null) throw new FileFormatException(path, "architectures", $"engine runs {Expected()}; got {item?.ToJsonString() ?? "null"}");
                    if (family is { } known && known != f)
                        throw new FileFormatException(path, "architectures", $"{item!.ToJsonString()} does not match model_type \"{known.ModelType()}\" (expected \"{known.Architecture()}\")");
                    family = f;
                }
                break;
            case var other: throw new FileFormatException(path, "architectures", $"expected a list such as [\"LlamaForCausalLM\"], got {other.ToJsonString()}");
        }
        var fam = family ?? ModelFamily.Llama;
        var act = o["hidden_act"];
        if (act is not null && act.GetValueKind() != JsonValueKind.Null
            && !(act.GetValueKind() == JsonValueKind.String && act.GetValue<string>() is "silu" or "swish"))
            throw new FileFormatException(path, "hidden_act", $"engine implements only \"silu\" (SwiGLU); got {act.ToJsonString()}");
        if (fam is ModelFamily.Mistral or ModelFamily.Qwen2 && JsonFields.Bool(o, "attention_bias", path, false))
            throw new FileFormatException(path, "attention_bias", $"true is not a {fam.Architecture()} option (its attention biases are fixed by the architecture)");
        if (fam != ModelFamily.Llama && JsonFields.Bool(o, "mlp_bias", path, false))
            throw new FileFormatException(path, "mlp_bias", $"true is not a {fam.Architecture()} option (its MLP has no biases)");
        if (JsonFields.Float(o, "partial_rotary_factor", path, 1f) != 1f)
            throw new FileFormatException(path, "partial_rotary_factor", $"only 1 (RoPE on the whole head) is supported, got {o["partial_rotary_factor"]!.ToJsonString()}");
        if (JsonFields.Float(o, "attention_dropout", path, 0f) != 0f)
            throw new FileFormatException(path, "attention_dropout", $"only 0 is supported, got {o["attention_dropout"]!.ToJsonString()}");
        return fam;
    }

    public JsonObject ToHfJson(string? torchDtype = "float32")
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Family.Architecture()),
            ["model_type"] = Family.ModelType(),
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["num_key_value_heads"] = NumKvHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = RopeScaling?.ToHfJson(),
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIdList is { } all ? new JsonArray(all.Ids.Select(i => (JsonNode)i).ToArray()) : EosTokenId,
            ["pad_token_id"] = PadTokenId,
            ["hidden_act"] = "silu",
            ["attention_dropout"] = 0.0,
            ["torch_dtype"] = torchDtype,
        };
        switch (Family)
        {
            case ModelFamily.Llama:
                o["attention_bias"] = AttentionBias;
                o["mlp_bias"] = MlpBias;
                break;
            case ModelFamily.Mistral:
                o["sliding_window"] = SlidingWindow;
                break;
            case ModelFamily.Qwen2 or ModelFamily.Qwen3:
                if (Family == ModelFamily.Qwen3) o["attention_bias"] = AttentionBias;
                o["use_sliding_window"] = SlidingWindow is not null;
                o["sliding_window"] = SlidingWindow;
                o["max_window_layers"] = SlidingWindow is not null ? FirstWindowLayer : NumLayers;
                break;
        }
        return o;
    }

    private static int Int(JsonObject o, string key, string path, int? fallback)
    {
        var n = o[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null)
            return fallback ?? throw new FileFormatException(path, key, "missing; expected an integer");
        if (n.GetValueKind() != JsonValueKind.Number || !n.AsValue().TryGetValue<int>(out var v))
            throw new FileFormatException(path, key, $"expected an integer, got {n.ToJsonString()}");
        return v;
    }

    /// <summary>A token id, or a list of them (eos_token_id in Llama 3.1 and Qwen configs); null when absent.</summary>
    private static int[]? TokenIds(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null) return null;
        var items = n is JsonArray arr ? arr.ToArray() : [n];
        return items.Select(x =>
            x is not null && x.GetValueKind() == JsonValueKind.Number && x.AsValue().TryGetValue<int>(out var v)
                ? v
                : throw new FileFormatException(path, key, $"expected a token id or a list of them, got {n.ToJsonString()}")).ToArray();
    }
}
