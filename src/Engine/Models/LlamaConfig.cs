using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Models;

/// <summary>Llama architecture hyper-parameters, with HF config.json names and defaults.</summary>
internal sealed record LlamaConfig
{
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumLayers { get; init; }
    public int NumHeads { get; init; }
    public int NumKvHeads { get; init; }
    public int HeadDim { get; init; }
    public int VocabSize { get; init; }
    public float RmsNormEps { get; init; } = 1e-6f;
    public float RopeTheta { get; init; } = 10000f;
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }
    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;
    public int? PadTokenId { get; init; }

    /// <summary>Sliding-window attention: each query sees at most this many keys (itself included), in the layers
    /// <see cref="WindowOf"/> names; null: full causal attention everywhere.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Layers below this index keep full attention when <see cref="SlidingWindow"/> is set (Qwen 2's
    /// max_window_layers); 0 for Mistral, whose window applies to every layer.</summary>
    public int FirstWindowLayer { get; init; }

    /// <summary>The attention window of layer <paramref name="layer"/>: a positive key count, or 0 for unlimited.</summary>
    public int WindowOf(int layer) => SlidingWindow is int w && layer >= FirstWindowLayer ? w : 0;

    public int QDim => NumHeads * HeadDim;
    public int KvDim => NumKvHeads * HeadDim;

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
        return this;
    }

    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, layer = d * QDim + 2 * d * KvDim + QDim * d + 3 * d * IntermediateSize + 2 * d;
            return VocabSize * d * (TieWordEmbeddings ? 1 : 2) + NumLayers * layer + d;
        }
    }

    /// <summary>Reads an HF config.json. Required: hidden_size, intermediate_size, num_hidden_layers,
    /// num_attention_heads, vocab_size; the rest default as in transformers' LlamaConfig.</summary>
    public static LlamaConfig FromHfJson(string path) => FromHfJson(Formats.JsonText.ReadObject(path), path);

    public static LlamaConfig FromHfJson(JsonObject o, string path)
    {
        RequireSupported(o, path);
        int hidden = Int(o, "hidden_size", path, null);
        int heads = Int(o, "num_attention_heads", path, null);
        var c = new LlamaConfig
        {
            HiddenSize = hidden,
            IntermediateSize = Int(o, "intermediate_size", path, null),
            NumLayers = Int(o, "num_hidden_layers", path, null),
            NumHeads = heads,
            NumKvHeads = Int(o, "num_key_value_heads", path, heads),
            HeadDim = Int(o, "head_dim", path, heads > 0 ? hidden / heads : 0),
            VocabSize = Int(o, "vocab_size", path, null),
            RmsNormEps = JsonFields.Float(o, "rms_norm_eps", path, 1e-6f),
            RopeTheta = JsonFields.Float(o, "rope_theta", path, 10000f),
            MaxPositionEmbeddings = Int(o, "max_position_embeddings", path, 2048),
            TieWordEmbeddings = JsonFields.Bool(o, "tie_word_embeddings", path, false),
            BosTokenId = TokenId(o, "bos_token_id", path) ?? 1,
            EosTokenId = TokenId(o, "eos_token_id", path) ?? 2,
            PadTokenId = TokenId(o, "pad_token_id", path),
        };
        return c.Validate(path);
    }

    /// <summary>The architectures engine runs, as config.json names them (architectures entry, model_type).</summary>
    private static readonly (string Architecture, string ModelType)[] Supported = [("LlamaForCausalLM", "llama")];

    /// <summary>Refuses, by name, every config.json field that would change the model's function in a way engine does
    /// not implement: another architecture, an activation other than SiLU, biases, RoPE scaling, attention dropout.
    /// The one place to extend when a model family is added.</summary>
    private static void RequireSupported(JsonObject o, string path)
    {
        string Expected() => string.Join(" or ", Supported.Select(s => s.Architecture));
        var mt = o["model_type"];
        if (mt is not null && mt.GetValueKind() != JsonValueKind.Null)
        {
            if (mt.GetValueKind() != JsonValueKind.String || !Supported.Any(s => s.ModelType == mt.GetValue<string>()))
                throw new FileFormatException(path, "model_type",
                    $"engine runs {string.Join(", ", Supported.Select(s => $"\"{s.ModelType}\""))} models; got {mt.ToJsonString()}");
        }
        switch (o["architectures"])
        {
            case null: break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Null: break;
            case JsonArray a:
                foreach (var item in a)
                {
                    if (item?.GetValueKind() != JsonValueKind.String || !Supported.Any(s => s.Architecture == item.GetValue<string>()))
                        throw new FileFormatException(path, "architectures", $"engine runs {Expected()}; got {item?.ToJsonString() ?? "null"}");
                }
                break;
            case var other: throw new FileFormatException(path, "architectures", $"expected a list such as [\"{Supported[0].Architecture}\"], got {other.ToJsonString()}");
        }
        var act = o["hidden_act"];
        if (act is not null && act.GetValueKind() != JsonValueKind.Null
            && !(act.GetValueKind() == JsonValueKind.String && act.GetValue<string>() is "silu" or "swish"))
            throw new FileFormatException(path, "hidden_act", $"engine implements only \"silu\" (SwiGLU); got {act.ToJsonString()}");
        if (JsonFields.Bool(o, "attention_bias", path, false))
            throw new FileFormatException(path, "attention_bias", "true is not supported (engine's attention projections have no bias)");
        if (JsonFields.Bool(o, "mlp_bias", path, false))
            throw new FileFormatException(path, "mlp_bias", "true is not supported (engine's MLP projections have no bias)");
        var rs = o["rope_scaling"];
        if (rs is not null && rs.GetValueKind() != JsonValueKind.Null)
            throw new FileFormatException(path, "rope_scaling",
                $"RoPE scaling ({(rs is JsonObject ro ? (ro["rope_type"] ?? ro["type"])?.ToJsonString() : rs.ToJsonString())}) is not supported yet");
        if (JsonFields.Float(o, "attention_dropout", path, 0f) != 0f)
            throw new FileFormatException(path, "attention_dropout", $"only 0 is supported, got {o["attention_dropout"]!.ToJsonString()}");
    }

    public JsonObject ToHfJson(string? torchDtype = "float32") => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["hidden_size"] = HiddenSize,
        ["intermediate_size"] = IntermediateSize,
        ["num_hidden_layers"] = NumLayers,
        ["num_attention_heads"] = NumHeads,
        ["num_key_value_heads"] = NumKvHeads,
        ["head_dim"] = HeadDim,
        ["vocab_size"] = VocabSize,
        ["rms_norm_eps"] = RmsNormEps,
        ["rope_theta"] = RopeTheta,
        ["max_position_embeddings"] = MaxPositionEmbeddings,
        ["tie_word_embeddings"] = TieWordEmbeddings,
        ["bos_token_id"] = BosTokenId,
        ["eos_token_id"] = EosTokenId,
        ["pad_token_id"] = PadTokenId,
        ["hidden_act"] = "silu",
        ["attention_bias"] = false,
        ["mlp_bias"] = false,
        ["rope_scaling"] = null,
        ["torch_dtype"] = torchDtype,
    };

    private static int Int(JsonObject o, string key, string path, int? fallback)
    {
        var n = o[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null)
            return fallback ?? throw new FileFormatException(path, key, "missing; expected an integer");
        if (n.GetValueKind() != JsonValueKind.Number || !n.AsValue().TryGetValue<int>(out var v))
            throw new FileFormatException(path, key, $"expected an integer, got {n.ToJsonString()}");
        return v;
    }

    private static int? TokenId(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null) return null;
        if (n is JsonArray arr) n = arr.Count > 0 ? arr[0] : null; // some configs list several eos ids; the first is the main one
        if (n is null) return null;
        if (n.GetValueKind() != JsonValueKind.Number || !n.AsValue().TryGetValue<int>(out var v))
            throw new FileFormatException(path, key, $"expected a token id, got {n.ToJsonString()}");
        return v;
    }
}
