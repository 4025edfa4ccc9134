using Engine.Quant;

namespace Engine.Checkpoints;

/// <summary>Which ggml type each tensor of an exported Llama model is stored as, following llama.cpp's converter and
/// llama-quantize (src/llama-quant.cpp) where we can:
/// <list type="bullet">
/// <item>1-D tensors (the norms) are F32 (convert_hf_to_gguf: n_dims &lt;= 1 or *_norm.weight → F32).</item>
/// <item>Every 2-D weight takes the requested type, except the output projection below.</item>
/// <item>A bare k-quant (q2_K … q6_K) is written as llama-quantize --pure writes it: every 2-D weight, the output
/// projection included, takes the requested type. llama-quantize's mixtures (q4_k_m …) pick a type per tensor by
/// <see cref="GgufQuantMixture"/>. A row length that is not a multiple of 256 falls back as llama-quantize falls back
/// (tensor_type_fallback: q2_K, q3_K → q4_0, q4_K → q5_0, q5_K → q5_1, q6_K → q8_0, then f16 if even that block size
/// does not divide the row), and the fallback is reported.</item>
/// <item>The output projection (output.weight, or token_embd.weight when the embeddings are tied, since llama-quantize
/// then gives the token embedding the output's type) of a legacy 4/5-bit export (q4_0, q4_1, q5_0, q5_1) is Q6_K, or
/// Q8_0 when its rows are not a multiple of 256, as llama-quantize's llama_tensor_get_type picks it. The k-quant
/// mixtures give it Q6_K as llama-quantize does; --pure gives it the requested type.
/// An untied token embedding keeps the requested type, as in llama-quantize.</item>
/// <item>A row length (ne[0]) that is not a multiple of the block size (32) cannot be stored as a block type: that
/// tensor falls back to F16 and the fallback is reported. This is convert_hf_to_gguf's rule for Q8_0 and
/// llama-quantize's last resort when even its fallback type does not fit; for the legacy 4/5-bit types llama-quantize
/// instead refuses the whole model ("no tensor type fallback is defined"), which would make models such as
/// stories260K (172-wide ffn_down rows) impossible to export at all.</item>
/// </list></summary>
internal static class GgufTensorPolicy
{
    /// <summary>llama.h llama_ftype of a file whose 2-D weights are mostly <paramref name="type"/>
    /// (LLAMA_FTYPE_ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3, MOSTLY_Q8_0 7, MOSTLY_Q5_0 8, MOSTLY_Q5_1 9,
    /// MOSTLY_BF16 32; for the k-quants MOSTLY_Q2_K 10 and the _S variants, MOSTLY_Q3_K_S 11, MOSTLY_Q4_K_S 14,
    /// MOSTLY_Q5_K_S 16, and MOSTLY_Q6_K 18, which llama-quantize also writes for --pure exports of those ftypes).</summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q4_1 => 3,
        GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8,
        GgmlType.Q5_1 => 9,
        GgmlType.Q2_K => 10,
        GgmlType.Q3_K => 11,
        GgmlType.Q4_K => 14,
        GgmlType.Q5_K => 16,
        GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported ggml type"),
    };

    /// <summary>The stored type of one tensor, and a note when it differs from what the rules above would pick for
    /// its role because its rows do not fit the block size.</summary>
    /// <param name="ggufName">llama.cpp's tensor name (token_embd.weight, blk.0.attn_q.weight, output.weight…).</param>
    /// <param name="shape">PyTorch-order shape; the last dimension is ggml's ne[0] (the row length).</param>
    /// <param name="tiedEmbeddings">Whether token_embd.weight also serves as the output projection.</param>
    /// <param name="mixture">llama-quantize's per-tensor choice for a named export type (<paramref name="requested"/>
    /// is then unused; the exporter always passes one); null: <paramref name="requested"/> for every 2-D weight, as
    /// --pure.</param>
    public static GgmlType Choose(string ggufName, IReadOnlyList<int> shape, GgmlType requested, bool tiedEmbeddings, out string? note,
        GgufQuantMixture? mixture = null)
    {
        note = null;
        if (shape.Count <= 1 || ggufName.EndsWith("_norm.weight", StringComparison.Ordinal)) return GgmlType.F32;
        bool isOutput = ggufName == "output.weight" || (tiedEmbeddings && ggufName == "token_embd.weight");
        int rowLength = shape[^1];
        var wanted = mixture?.Pick(ggufName, rowLength, isOutput) ?? requested;
        if (wanted.IsKQuant() && rowLength % wanted.BlockSize() != 0)
        {
            var fallback = KQuantFallback(wanted);
            if (rowLength % fallback.BlockSize() == 0)
            {
                note = $"{ggufName}: rows of {rowLength} values are not a multiple of {wanted.BlockSize()}, so it cannot be {wanted.Name()}; stored as {fallback.Name()} (llama-quantize's fallback)";
                return fallback;
            }
        }
        if (wanted.IsQuantized() && rowLength % wanted.BlockSize() != 0)
        {
            note = $"{ggufName}: rows of {rowLength} values are not a multiple of {wanted.BlockSize()}, so it cannot be {wanted.Name()}; stored as f16";
            return GgmlType.F16;
        }
        return wanted;
    }

    /// <summary>llama-quant.cpp's fallback for a k-quant tensor whose rows are not a multiple of 256.</summary>
    public static GgmlType KQuantFallback(GgmlType kQuant) => kQuant switch
    {
        GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
        GgmlType.Q4_K => GgmlType.Q5_0,
        GgmlType.Q5_K => GgmlType.Q5_1,
        GgmlType.Q6_K => GgmlType.Q8_0,
        _ => throw new ArgumentOutOfRangeException(nameof(kQuant), kQuant, "not a k-quant"),
    };
}
