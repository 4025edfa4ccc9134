using Engine.Backends;
using Engine.Formats;
using Engine.Quant;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>What a LoRA GGUF export wrote.</summary>
/// <param name="Alpha">adapter.lora.alpha as written: PEFT's lora_alpha, or lora_alpha·√r for an rsLoRA adapter so that
/// llama.cpp's alpha / r equals rsLoRA's alpha / √r.</param>
internal sealed record GgufLoraExportReport(string Path, string Architecture, int Rank, float Alpha, IReadOnlyList<GgufExportedTensor> Tensors);

/// <summary>Writes a PEFT LoRA adapter as a llama.cpp LoRA adapter GGUF (what convert_lora_to_gguf.py writes and
/// llama_adapter_lora_init reads): general.architecture of the base (llama/qwen2/qwen3), general.type "adapter",
/// adapter.type "lora", adapter.lora.alpha, and per adapted projection <c>{base GGUF name}.lora_a</c> [r, in] and
/// <c>.lora_b</c> [out, r] (PyTorch order; ggml ne reversed). llama.cpp adds scale·(alpha / r)·B·A·x to the base
/// projection, r read from lora_b. For the llama architecture the base's q/k rows are permuted from HF's half-split RoPE
/// order to the interleaved one (<see cref="GgufExporter"/>), so lora_b of q_proj/k_proj gets the same row permutation;
/// lora_a (which acts on the input) does not.</summary>
internal static class GgufLoraExporter
{
    /// <param name="config">The base model's config (architecture, heads for the q/k permutation).</param>
    /// <param name="adapter">The adapter, attached to that base (so its shapes were checked against it).</param>
    /// <param name="type">F32 or F16.</param>
    /// <param name="name">general.name; default: the output file's name without extension.</param>
    public static GgufLoraExportReport Export(LlamaConfig config, LoraAdapter adapter, string outPath, GgmlType type = GgmlType.F32, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        if (type is not (GgmlType.F32 or GgmlType.F16))
            throw new EngineException($"cannot export {outPath}: a LoRA adapter is written as f32 or f16, not {type.Name()}");
        var o = adapter.Options;
        var arch = config.Family.GgufArchitecture();
        bool permute = arch == "llama";
        // llama.cpp scales by alpha / r; rsLoRA scales by alpha / √r, which is the same with alpha·√r written.
        float alpha = o.UseRslora ? o.Alpha * MathF.Sqrt(o.R) : o.Alpha;
        var writer = new GgufWriter();
        writer.AddString("general.architecture", arch);
        writer.AddString("general.type", "adapter");
        writer.AddString("general.name", name ?? Path.GetFileNameWithoutExtension(outPath));
        writer.AddString("adapter.type", "lora");
        writer.AddF32("adapter.lora.alpha", alpha);
        var tensors = new List<GgufExportedTensor>();
        for (int layer = 0; layer < config.NumLayers; layer++)
            foreach (var proj in o.Targets)
            {
                var baseName = GgufNames.ProjectionWeight(layer, proj)
                    ?? throw new EngineException($"cannot export {outPath}: target module \"{proj}\" has no llama.cpp tensor name");
                int heads = !permute ? 0 : proj == "q_proj" ? config.NumHeads : proj == "k_proj" ? config.NumKvHeads : 0;
                foreach (var (ab, suffix) in new[] { ('A', "lora_a"), ('B', "lora_b") })
                {
                    var peft = LoraAdapter.PeftName(layer, proj, ab);
                    if (!adapter.Parameters.TryGet(peft, out var t))
                        throw new EngineException($"cannot export {outPath}: the adapter has no {peft}");
                    var shape = t.Shape.ToArray();
                    var values = new float[t.NumElements];
                    Backend.Of(t).ToFloats(t, values);
                    if (ab == 'B' && heads > 0) RopeLayout.HalfToInterleaved<float>(values, shape[0], shape[1], heads);
                    var gguf = $"{baseName}.{suffix}";
                    writer.AddTensorFloats(gguf, type, shape, values);
                    tensors.Add(new GgufExportedTensor(gguf, type, shape, peft));
                }
            }
        writer.Write(outPath);
        return new GgufLoraExportReport(outPath, arch, o.R, alpha, tensors);
    }
}
