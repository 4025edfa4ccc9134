using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Api;

/// <summary>What <see cref="ModelFiles.Quantize"/> wrote.</summary>
/// <param name="QuantizedProjections">Projections stored in NF4.</param>
/// <param name="Bf16Bytes">The base weights' size at bf16.</param>
/// <param name="QuantizedBytes">Their size as stored (NF4 projections; embeddings, norms and LM head at bf16).</param>
public sealed record QuantizeResult(string OutputDir, int QuantizedProjections, bool DoubleQuant, long Bf16Bytes, long QuantizedBytes);

/// <summary>What <see cref="ModelFiles.Merge"/> wrote.</summary>
/// <param name="MergedProjections">Projections that had an adapter folded in.</param>
/// <param name="QuantizedBase">True when the base was NF4 and was dequantized first.</param>
public sealed record MergeResult(string OutputDir, int MergedProjections, bool QuantizedBase, string DType);

/// <summary>What <see cref="ModelFiles.ExportGgufLora"/> wrote.</summary>
/// <param name="Path">The .gguf adapter file.</param>
/// <param name="Architecture">general.architecture: the base model's llama.cpp architecture (llama, qwen2, qwen3).</param>
/// <param name="Rank">The adapter's rank r.</param>
/// <param name="Alpha">adapter.lora.alpha as written (llama.cpp scales by alpha / r): PEFT's lora_alpha, or lora_alpha·√r
/// for an rsLoRA adapter.</param>
/// <param name="Bytes">The file's size.</param>
/// <param name="Tensors">Every lora_a / lora_b tensor with its type and shape (PyTorch order).</param>
public sealed record GgufLoraExportResult(string Path, string Architecture, int Rank, float Alpha, long Bytes, IReadOnlyList<GgufTensorEntry> Tensors);

/// <summary>File-to-file operations on checkpoints: quantize, merge, export. They are host work, so they load the model
/// on the CPU whatever device is available.</summary>
public static class ModelFiles
{
    private static EngineModel OpenOnHost(string model, string? tokenizer, string? adapter, WeightOptions? weights = null)
    {
        var loaded = ModelLoader.Load(model, CpuBackend.Instance, weights ?? new WeightOptions(), tokenizer);
        return EngineModel.WithAdapter(loaded, loaded.Format.ToString(), adapter);
    }

    /// <summary>Writes an HF folder whose projections are bitsandbytes NF4 (what transformers saves for a model loaded with
    /// BitsAndBytesConfig(load_in_4bit=True, nf4, bfloat16)); embeddings, norms and the LM head in bf16. transformers +
    /// bitsandbytes and engine both load it.</summary>
    /// <param name="type">Only "nf4" is supported.</param>
    public static QuantizeResult Quantize(string model, string outputDir, string type = "nf4", bool doubleQuant = true, string? tokenizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        if (!string.Equals(type, "nf4", StringComparison.OrdinalIgnoreCase))
            throw new EngineException($"--type: only nf4 is supported here, got \"{type}\"");
        using var m = OpenOnHost(model, tokenizer, null, new WeightOptions { Nf4 = new Nf4Options(doubleQuant) });
        var loaded = m.Loaded;
        var sizes = Nf4Quantization.Sizes(loaded.Model);
        HfModelWriter.Save(loaded.Model, outputDir, DType.BF16, loaded.TokenizerPath);
        return new QuantizeResult(outputDir, sizes.QuantizedProjections, doubleQuant, sizes.Bf16, sizes.Quantized);
    }

    /// <summary>Folds a PEFT LoRA adapter into its base (dense or NF4, which is dequantized first) and saves an HF folder
    /// with weights in <paramref name="dtype"/> (f16, bf16 or f32).</summary>
    public static MergeResult Merge(string model, string adapter, string outputDir, string dtype = "bf16", string? tokenizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(adapter);
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        var storeAs = TrainJob.ParseDType(dtype);
        using var m = OpenOnHost(model, tokenizer, adapter);
        bool quantized = m.Info.QuantizedProjections > 0;
        int merged = m.MergeAdapterAndDequantize(storeAs);
        HfModelWriter.Save(m.Loaded.Model, outputDir, storeAs, m.Loaded.TokenizerPath);
        return new MergeResult(outputDir, merged, quantized, storeAs.Name());
    }

    /// <summary>Writes a model (with a LoRA adapter merged in, from any base engine loads, NF4 included) as GGUF.</summary>
    public static GgufExportResult ExportGguf(string model, string outputPath, GgufExportOptions? options = null, string? adapter = null, string? tokenizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        (options ??= new GgufExportOptions()).Validate(); // before the model is loaded
        using var m = OpenOnHost(model, tokenizer, adapter);
        return m.ExportGguf(outputPath, options);
    }

    /// <summary>Writes a PEFT LoRA adapter as a llama.cpp LoRA adapter GGUF (as convert_lora_to_gguf.py does), to be
    /// applied at run time to the base exported with <see cref="ExportGguf"/> (llama-cli --lora). The base model is
    /// loaded for its architecture and shapes; for the llama architecture q/k lora_b rows get the base's RoPE row
    /// permutation.</summary>
    /// <param name="model">The base model the adapter was trained on.</param>
    /// <param name="adapter">The PEFT adapter folder.</param>
    /// <param name="outputPath">The .gguf file to write.</param>
    /// <param name="type">f32 or f16.</param>
    /// <param name="name">general.name; null uses the output file's name.</param>
    public static GgufLoraExportResult ExportGgufLora(string model, string adapter, string outputPath, string type = "f32", string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        ArgumentException.ThrowIfNullOrEmpty(adapter);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        var stored = type.ToLowerInvariant() switch
        {
            "f32" => GgmlType.F32,
            "f16" => GgmlType.F16,
            _ => throw new EngineException($"--type {type}: a LoRA adapter is written as f32 or f16"),
        };
        if (name is { Length: 0 }) throw new EngineException("--name must not be empty (omit it to use the output file's name)");
        using var loaded = ModelLoader.Load(model, CpuBackend.Instance, new WeightOptions());
        using var lora = PeftAdapterIO.Load(loaded.Model, adapter);
        var r = GgufLoraExporter.Export(loaded.Model.Config, lora, outputPath, stored, name);
        return new GgufLoraExportResult(r.Path, r.Architecture, r.Rank, r.Alpha, new FileInfo(r.Path).Length,
            r.Tensors.Select(t => new GgufTensorEntry(t.Name, t.Type.Name(), t.Shape.Select(d => (long)d).ToArray())).ToArray());
    }
}
