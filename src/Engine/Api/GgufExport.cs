namespace Engine.Api;

/// <summary>How a model is written as GGUF.</summary>
public sealed record GgufExportOptions
{
    /// <summary>Storage type of the 2-D weights: one of <see cref="GgufExport.Types"/> (norms stay f32). The k-quant
    /// file types (q2_k, q3_k_s/m/l, q4_k_s/m, q5_k_s/m, q6_k) give each tensor the type llama-quantize's mixture gives
    /// it (q4_k_m: attn_v and ffn_down of some layers and output.weight in q6_K, the rest q4_K); q4_k and q5_k are
    /// pure q4_K / q5_K exports.</summary>
    public string Type { get; init; } = "q8_0";
    /// <summary>llama-quantize --pure: every 2-D weight, output.weight included, in the type's base block type (q4_k_m:
    /// all q4_K) instead of the per-tensor mixture; rows that do not fit the block size still fall back.</summary>
    public bool Pure { get; init; }
    /// <summary>general.name in the file; null uses the output file's name.</summary>
    public string? Name { get; init; }
    /// <summary>Also write an Ollama Modelfile beside the GGUF (<c>model.gguf</c> → <c>model.Modelfile</c>): FROM the
    /// file, the model's chat template in Ollama's syntax (derived by rendering the model's own template, so Ollama's
    /// prompt is the text engine trains on) and a stop parameter per end-of-turn token.</summary>
    public bool Modelfile { get; init; }

    /// <summary>Checks the options and returns the export type.</summary>
    internal Checkpoints.GgufQuantType Validate()
    {
        if (!Checkpoints.GgufQuantType.TryParse(Type, Pure, out var type))
            throw new EngineException($"--type {Type}: unknown type; choose one of {string.Join("|", GgufExport.Types)}");
        if (Name is { Length: 0 }) throw new EngineException("--name must not be empty (omit it to use the output file's name)");
        return type;
    }
}

/// <summary>One tensor of a written GGUF file.</summary>
public sealed record GgufTensorEntry(string Name, string Type, IReadOnlyList<long> Shape);

/// <summary>What <see cref="EngineModel.ExportGguf"/> wrote.</summary>
/// <param name="Path">The .gguf file.</param>
/// <param name="Type">The requested export type (as <see cref="GgufExport.Types"/> names it).</param>
/// <param name="Bytes">The file's size.</param>
/// <param name="Tensors">Every tensor with the type it was stored in.</param>
/// <param name="Notes">Where a tensor could not take the requested type and what it got instead.</param>
public sealed record GgufExportResult(string Path, string Type, long Bytes, IReadOnlyList<GgufTensorEntry> Tensors, IReadOnlyList<string> Notes)
{
    /// <summary>The Ollama Modelfile written beside the GGUF, or null when none was asked for.</summary>
    public string? ModelfilePath { get; init; }
}

/// <summary>The GGUF storage types engine writes.</summary>
public static class GgufExport
{
    /// <summary>f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, llama-quantize's k-quant file types q2_k, q3_k_s, q3_k_m,
    /// q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, and the pure q4_k, q5_k (parsing ignores case).</summary>
    public static IReadOnlyList<string> Types { get; } = Checkpoints.GgufQuantType.Names;
}
