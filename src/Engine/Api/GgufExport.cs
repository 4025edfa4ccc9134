namespace Engine.Api;

/// <summary>How a model is written as GGUF.</summary>
public sealed record GgufExportOptions
{
    /// <summary>Storage type of the 2-D weights: one of <see cref="GgufExport.Types"/> (norms stay f32).</summary>
    public string Type { get; init; } = "q8_0";
    /// <summary>general.name in the file; null uses the output file's name.</summary>
    public string? Name { get; init; }

    /// <summary>Checks the options and returns the storage type.</summary>
    internal Quant.GgmlType Validate()
    {
        if (!Quant.GgmlTypes.TryParse(Type, out var type))
            throw new EngineException($"--type {Type}: unknown type; choose one of {string.Join("|", GgufExport.Types)}");
        if (Name is { Length: 0 }) throw new EngineException("--name must not be empty (omit it to use the output file's name)");
        return type;
    }
}

/// <summary>One tensor of a written GGUF file.</summary>
public sealed record GgufTensorEntry(string Name, string Type, IReadOnlyList<long> Shape);

/// <summary>What <see cref="EngineModel.ExportGguf"/> wrote.</summary>
/// <param name="Path">The .gguf file.</param>
/// <param name="Type">The requested storage type.</param>
/// <param name="Bytes">The file's size.</param>
/// <param name="Tensors">Every tensor with the type it was stored in.</param>
/// <param name="Notes">Where a tensor could not take the requested type and what it got instead.</param>
public sealed record GgufExportResult(string Path, string Type, long Bytes, IReadOnlyList<GgufTensorEntry> Tensors, IReadOnlyList<string> Notes);

/// <summary>The GGUF storage types engine writes.</summary>
public static class GgufExport
{
    /// <summary>f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_K, q5_K, q6_K, bf16 (ggml's names; parsing ignores case).</summary>
    public static IReadOnlyList<string> Types { get; } = Enum.GetValues<Quant.GgmlType>().Select(Quant.GgmlTypes.Name).ToArray();
}
