using Engine.Models;
using Engine.Quant;

namespace Engine.Checkpoints;

/// <summary>A GGUF export type as <c>--type</c> names it: llama-quantize's file type names (llama.h llama_ftype: q4_k_m
/// is LLAMA_FTYPE_MOSTLY_Q4_K_M = 15, the value written as general.file_type) and its default tensor type.
/// Unless <paramref name="Pure"/>, the k-quant types pick a type per tensor as llama-quantize does without --pure
/// (see <see cref="GgufQuantMixture"/>); when pure, every 2-D weight takes <paramref name="BaseType"/> as llama-quantize
/// --pure writes it (output.weight included). The single-type names q4_k and q5_k keep their earlier meaning, a pure
/// export (the same as q4_k_s / q5_k_s with --pure); the legacy block types and f16/bf16/f32 keep <see cref="GgufTensorPolicy"/>'s rules
/// unless pure is asked for.</summary>
internal sealed record GgufQuantType(string Name, GgmlType BaseType, uint FileType, bool Pure)
{
    private static readonly GgufQuantType[] Known =
    {
        new("f32", GgmlType.F32, 0, false),
        new("f16", GgmlType.F16, 1, false),
        new("bf16", GgmlType.BF16, 32, false),
        new("q8_0", GgmlType.Q8_0, 7, false),
        new("q4_0", GgmlType.Q4_0, 2, false),
        new("q4_1", GgmlType.Q4_1, 3, false),
        new("q5_0", GgmlType.Q5_0, 8, false),
        new("q5_1", GgmlType.Q5_1, 9, false),
        new("q2_k", GgmlType.Q2_K, 10, false),
        new("q3_k_s", GgmlType.Q3_K, 11, false),
        new("q3_k_m", GgmlType.Q3_K, 12, false),
        new("q3_k_l", GgmlType.Q3_K, 13, false),
        new("q4_k_s", GgmlType.Q4_K, 14, false),
        new("q4_k_m", GgmlType.Q4_K, 15, false),
        new("q5_k_s", GgmlType.Q5_K, 16, false),
        new("q5_k_m", GgmlType.Q5_K, 17, false),
        new("q6_k", GgmlType.Q6_K, 18, false),
        new("q4_k", GgmlType.Q4_K, 14, true),
        new("q5_k", GgmlType.Q5_K, 16, true),
    };

    /// <summary>Every name <see cref="TryParse"/> accepts, in the order help texts list them.</summary>
    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary>Looks a name up ignoring case; <paramref name="pure"/> turns the mixture off (llama-quantize --pure).</summary>
    public static bool TryParse(string name, bool pure, out GgufQuantType type)
    {
        var found = Known.FirstOrDefault(k => string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase));
        type = found is null ? null! : pure ? found with { Pure = true } : found;
        return found is not null;
    }

    /// <summary>The meaning of a bare ggml type (<see cref="GgufExporter.Export(LlamaModel, Tokenizers.ITokenizer, GgmlType, string, string?)"/>):
    /// the k-quants pure, the others by <see cref="GgufTensorPolicy"/>'s rules; file type per
    /// <see cref="GgufTensorPolicy.FileType"/>.</summary>
    public static GgufQuantType Of(GgmlType type) => new(type.Name(), type, GgufTensorPolicy.FileType(type), type.IsKQuant());
}

/// <summary>llama-quantize's per-tensor mixture (llama_tensor_get_type_impl in llama.cpp's src/llama-quant.cpp) for a
/// dense Llama-family model without an importance matrix: the type a tensor asks for before the row-length fallback of
/// <see cref="GgufTensorPolicy.Choose"/>. The rules were read from a recent llama.cpp; the judge tests check them,
/// type and bytes per tensor, against the llama.cpp that LLamaSharp 0.30.0 bundles (c0c7e147), except the 70B rule,
/// which needs an 80-layer model.
/// <list type="bullet">
/// <item>output.weight (or a tied token_embd.weight): q8_0 when its rows are not a multiple of the file type's block
/// size, else q6_K.</item>
/// <item>attn_v of layer i: q2_k → q4_K when n_head/n_head_kv ≥ 4, else q3_K; q3_k_m → q5_K for i &lt; 2, else q4_K;
/// q3_k_l → q5_K; q4_k_m and q5_k_m → q6_K where use_more_bits(i, n_layer); q4_k_s → q5_K for i &lt; 4. Llama.cpp's
/// 70B model type (80 layers, grouped KV heads) lifts a q3_K/q4_K attn_v to q5_K.</item>
/// <item>ffn_down of layer i: q2_k → q3_K; q3_k_m → q5_K for i &lt; n_layer/16, else q4_K; q3_k_l → q5_K; q4_k_m and
/// q5_k_m → q6_K where use_more_bits; q4_k_s → q5_K for i &lt; n_layer/8.</item>
/// <item>attn_output: q2_k → q3_K; q3_k_m → q4_K; q3_k_l → q5_K.</item>
/// <item>Everything else (attn_q, attn_k, ffn_gate, ffn_up, an untied token_embd) keeps the base type.</item>
/// </list>
/// use_more_bits(i, n) = i &lt; n/8 || i ≥ 7n/8 || (i - n/8) % 3 == 2. llama.cpp counts attn_v and ffn_down tensors in
/// the order it quantizes them (by layer), which for a dense model is the layer number in the name. The rules for
/// mixture-of-experts models, Falcon and the IQ types do not apply to the models engine exports.</summary>
internal sealed class GgufQuantMixture
{
    private readonly int _layers;
    private readonly int _gqa;
    private readonly bool _is70B;

    public GgufQuantMixture(GgufQuantType type, LlamaConfig config)
    {
        Type = type;
        _layers = config.NumLayers;
        _gqa = config.NumKvHeads > 0 ? config.NumHeads / config.NumKvHeads : 1;
        // llama-model.cpp names an 80-layer Llama 70B when its KV heads are grouped (65B otherwise).
        _is70B = config.NumLayers == 80 && config.NumHeads != config.NumKvHeads;
    }

    public GgufQuantType Type { get; }

    /// <summary>The type tensor <paramref name="ggufName"/> asks for (before row-length fallbacks).</summary>
    public GgmlType Pick(string ggufName, int rowLength, bool isOutput)
    {
        var t = Type.BaseType;
        if (Type.Pure) return t;
        // llama_tensor_get_type's output rule, for every quantized file type but q8_0: Q6_K, or Q8_0 when the rows are
        // not a multiple of 256 (a q8_0 file keeps Q8_0).
        if (isOutput && t.IsQuantized() && t != GgmlType.Q8_0) return rowLength % 256 != 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
        if (!t.IsKQuant()) return t;
        string f = Type.Name;
        if (ggufName.Contains("attn_v.weight", StringComparison.Ordinal))
        {
            int i = Layer(ggufName);
            var v = f switch
            {
                "q2_k" => _gqa >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K,
                "q3_k_m" => i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K,
                "q3_k_l" => GgmlType.Q5_K,
                "q4_k_m" or "q5_k_m" when UseMoreBits(i, _layers) => GgmlType.Q6_K,
                "q4_k_s" when i < 4 => GgmlType.Q5_K,
                _ => t,
            };
            return _is70B && v is GgmlType.Q3_K or GgmlType.Q4_K ? GgmlType.Q5_K : v;
        }
        if (ggufName.Contains("ffn_down", StringComparison.Ordinal))
        {
            int i = Layer(ggufName), n = _layers;
            return f switch
            {
                "q2_k" => GgmlType.Q3_K,
                "q3_k_m" => i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K,
                "q3_k_l" => GgmlType.Q5_K,
                "q4_k_m" or "q5_k_m" when UseMoreBits(i, n) => GgmlType.Q6_K,
                "q4_k_s" when i < n / 8 => GgmlType.Q5_K,
                _ => t,
            };
        }
        if (ggufName.Contains("attn_output.weight", StringComparison.Ordinal))
        {
            return f switch
            {
                "q2_k" => GgmlType.Q3_K,
                "q3_k_m" => GgmlType.Q4_K,
                "q3_k_l" => GgmlType.Q5_K,
                _ => t,
            };
        }
        return t;
    }

    /// <summary>llama-quant.cpp's use_more_bits: the first and last eighth of the layers and every third one between.</summary>
    public static bool UseMoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static int Layer(string ggufName)
    {
        const string prefix = "blk.";
        int dot = ggufName.IndexOf('.', prefix.Length);
        if (!ggufName.StartsWith(prefix, StringComparison.Ordinal) || dot < 0 || !int.TryParse(ggufName.AsSpan(prefix.Length, dot - prefix.Length), out int i))
            throw new ArgumentException($"{ggufName}: expected a layer tensor named blk.N.…", nameof(ggufName));
        return i;
    }
}
