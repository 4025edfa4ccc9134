using System.Text.Json.Nodes;
using System.Text.Json;
using Engine.Formats;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>Saves a model as an HF folder: config.json, model.safetensors (sharded above 5 GB as transformers does),
/// generation_config.json, and the tokenizer file copied beside it, so transformers and engine both load it.
/// Weights are written in the model's canonical (HF) layout, so no permutation happens here. NF4 projections are
/// written as bitsandbytes serializes them (<c>weight</c> U8 plus <c>weight.absmax</c>, <c>weight.quant_map</c>, …,
/// <c>weight.quant_state.bitsandbytes__nf4</c>) and config.json then carries transformers' <c>quantization_config</c>,
/// so transformers + bitsandbytes load the folder as a 4-bit model; LoRA adapters are not part of the base and are
/// not written.</summary>
internal static class HfModelWriter
{
    public const long DefaultShardBytes = 5L * 1000 * 1000 * 1000;

    /// <summary>Writes the folder as a whole (see <see cref="AtomicFile.WriteFolder"/>): an interrupted save never pairs
    /// new weights with an old config.json.</summary>
    public static void Save(LlamaModel model, string dir, DType storeAs = DType.F32, string? tokenizerPath = null, long shardBytes = DefaultShardBytes) =>
        AtomicFile.WriteFolder(dir, staging => SaveFiles(model, staging, storeAs, tokenizerPath, shardBytes),
            obsolete: name => name.StartsWith("model", StringComparison.Ordinal)
                              && (name.EndsWith(".safetensors", StringComparison.Ordinal) || name.EndsWith(".safetensors.index.json", StringComparison.Ordinal)));

    private static void SaveFiles(LlamaModel model, string dir, DType storeAs, string? tokenizerPath, long shardBytes)
    {
        var be = model.Backend;
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var (name, t) in model.Parameters.All)
        {
            var tensor = t;
            var dtype = storeAs; // transformers saves every tensor, norms included, in the model's dtype
            writer.Add(name, dtype, t.Shape.ToArray(), s =>
            {
                var f = new float[tensor.NumElements];
                be.ToFloats(tensor, f);
                SafeTensorsWriter.WriteFloats(s, f, dtype);
            });
        }
        var quantized = Nf4Quantization.QuantizedProjections(model).ToList();
        foreach (var (name, q) in quantized)
        {
            var prefix = name[..^"weight".Length];
            foreach (var t in q.Download().ToBnbState())
                writer.Add(prefix + t.Name, t.DType == "U8" ? DType.U8 : DType.F32, t.Shape, t.Data);
        }
        writer.WriteSharded(dir, shardBytes);
        var torchDtype = storeAs switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" };
        var config = model.Config.ToHfJson(torchDtype);
        if (quantized.Count > 0)
        {
            bool dq = quantized[0].Linear.IsDoubleQuantized;
            if (quantized.Any(p => p.Linear.IsDoubleQuantized != dq))
                throw new EngineException("cannot save a model whose NF4 projections mix plain and double-quantized scales (one quantization_config covers them all)");
            config[BnbQuantizationConfig.Key] = BnbQuantizationConfig.Nf4(dq);
        }
        WriteJson(Path.Combine(dir, "config.json"), config);
        WriteJson(Path.Combine(dir, "generation_config.json"), new JsonObject
        {
            ["bos_token_id"] = model.Config.BosTokenId,
            ["eos_token_id"] = model.Config.EosTokenIdList is { } all ? new JsonArray(all.Ids.Select(i => (JsonNode)i).ToArray()) : model.Config.EosTokenId,
        });
        if (tokenizerPath is not null) CopyTokenizer(tokenizerPath, dir);
    }

    /// <summary>Copies a tokenizer file into a model folder under its conventional name (a tokenizer.json with the
    /// tokenizer_config.json beside it).</summary>
    public static void CopyTokenizer(string tokenizerPath, string dir)
    {
        if (tokenizerPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var (from, to) in new[] { (tokenizerPath, "tokenizer.json"),
                (Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!, "tokenizer_config.json"), "tokenizer_config.json") })
            {
                var target = Path.Combine(dir, to);
                if (File.Exists(from) && Path.GetFullPath(from) != Path.GetFullPath(target))
                    AtomicFile.Write(target, s => { using var f = File.OpenRead(from); f.CopyTo(s); });
            }
            return;
        }
        var name = tokenizerPath.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? "tokenizer.bin" : "tokenizer.model";
        var dst = Path.Combine(dir, name);
        if (Path.GetFullPath(tokenizerPath) != Path.GetFullPath(dst))
            AtomicFile.Write(dst, s => { using var f = File.OpenRead(tokenizerPath); f.CopyTo(s); });
        if (name == "tokenizer.model")
            WriteJson(Path.Combine(dir, "tokenizer_config.json"), new JsonObject
            {
                ["tokenizer_class"] = "LlamaTokenizer",
                ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["unk_token"] = "<unk>",
                ["add_bos_token"] = true, ["add_eos_token"] = false, ["legacy"] = true,
                ["model_max_length"] = 1000000000000000019884624838656.0,
            });
    }

    public static void WriteJson(string path, JsonNode node) =>
        AtomicFile.Write(path, s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            node.WriteTo(w);
        });
}
