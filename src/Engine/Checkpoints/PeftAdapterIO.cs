using System.Text.Json.Nodes;
using System.Text.Json;
using Engine.Backends;
using Engine.Formats;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>Reads and writes LoRA adapters in PEFT's format: adapter_config.json + adapter_model.safetensors (metadata
/// {"format": "pt"}), tensor names base_model.model.model.layers.{i}.{module}.lora_{A,B}.weight.</summary>
internal static class PeftAdapterIO
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>Writes adapter_config.json and adapter_model.safetensors as one unit (see
    /// <see cref="AtomicFile.WriteFolder"/>): an interrupted save never pairs new weights with an old config.</summary>
    public static void Save(LoraAdapter adapter, string dir, string? baseModel) =>
        AtomicFile.WriteFolder(dir, staging => SaveFiles(adapter, staging, baseModel));

    private static void SaveFiles(LoraAdapter adapter, string dir, string? baseModel)
    {
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        foreach (var (name, t) in adapter.Parameters.All)
        {
            var f = new float[t.NumElements];
            Backend.Of(t).ToFloats(t, f);
            writer.AddFloats(name, t.Shape.ToArray(), f);
        }
        writer.Write(Path.Combine(dir, WeightsFile));
        var o = adapter.Options;
        var cfg = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModel,
            ["r"] = o.R,
            ["lora_alpha"] = o.Alpha,
            ["lora_dropout"] = o.Dropout,
            ["target_modules"] = new JsonArray(o.Targets.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["use_rslora"] = o.UseRslora,
            ["use_dora"] = false,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = null,
            ["layers_to_transform"] = null,
            ["layers_pattern"] = null,
            ["rank_pattern"] = new JsonObject(),
            ["alpha_pattern"] = new JsonObject(),
            ["revision"] = null,
        };
        HfModelWriter.WriteJson(Path.Combine(dir, ConfigFile), cfg);
    }

    /// <summary>Reads adapter_config.json into options (targets, r, alpha, dropout, rsLoRA).</summary>
    public static LoraOptions ReadConfig(string dir)
    {
        var path = Path.Combine(dir, ConfigFile);
        if (!File.Exists(path)) throw new EngineException($"--adapter {dir}: no {ConfigFile} (is this a PEFT LoRA adapter folder?)");
        var o = JsonText.ReadObject(path);
        var type = JsonFields.String(o, "peft_type", path);
        if (type is not null && type != "LORA") throw new FileFormatException(path, "peft_type", $"only LORA adapters are supported, got \"{type}\"");
        if (JsonFields.Bool(o, "use_dora", path, false)) throw new FileFormatException(path, "use_dora", "DoRA adapters are not supported");
        if (o["rank_pattern"] is JsonObject rp && rp.Count > 0) throw new FileFormatException(path, "rank_pattern", "per-module ranks are not supported");
        if (o["alpha_pattern"] is JsonObject ap && ap.Count > 0) throw new FileFormatException(path, "alpha_pattern", "per-module alphas are not supported");
        RefuseUnsupported(o, path);
        int r = o["r"] is JsonValue rv && rv.TryGetValue<int>(out var ri) ? ri : throw new FileFormatException(path, "r", $"expected a positive integer, got {o["r"]?.ToJsonString() ?? "nothing"}");
        if (r <= 0) throw new FileFormatException(path, "r", $"must be a positive integer, got {r}");
        float alpha = JsonFields.Float(o, "lora_alpha", path, 8f);
        if (!(alpha > 0)) throw new FileFormatException(path, "lora_alpha", $"must be a number > 0, got {o["lora_alpha"]!.ToJsonString()}");
        float dropout = JsonFields.Float(o, "lora_dropout", path, 0f);
        if (!(dropout >= 0 && dropout < 1)) throw new FileFormatException(path, "lora_dropout", $"must be in [0, 1), got {o["lora_dropout"]!.ToJsonString()}");
        string[] targets = o["target_modules"] switch
        {
            JsonArray a => a.Select(x => x?.GetValueKind() == JsonValueKind.String ? x.GetValue<string>()
                : throw new FileFormatException(path, "target_modules", $"expected module names, got {x?.ToJsonString() ?? "null"}")).ToArray(),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => TargetsFromString(v.GetValue<string>(), path),
            _ => throw new FileFormatException(path, "target_modules", "missing; expected a list of module names"),
        };
        bool rs = JsonFields.Bool(o, "use_rslora", path, false);
        string[] parsed;
        try { parsed = LoraOptions.ParseTargets(string.Join(",", targets)); }
        catch (EngineException e) { throw new FileFormatException(path, "target_modules", e.Message); }
        return new LoraOptions { R = r, Alpha = alpha, Dropout = dropout, Targets = parsed, UseRslora = rs };
    }

    /// <summary>Fields that change which modules an adapter touches or what it adds: engine applies LoRA A/B to every
    /// layer's target projections and nothing else, so any of these set would load as if plain and compute the wrong
    /// function.</summary>
    private static void RefuseUnsupported(JsonObject o, string path)
    {
        static bool Set(JsonNode? n) => n is not null && n.GetValueKind() != JsonValueKind.Null && !(n is JsonArray { Count: 0 });
        foreach (var (key, what) in new[]
                 {
                     ("layers_to_transform", "adapting only some layers"), ("layers_pattern", "adapting only some layers"),
                     ("modules_to_save", "fully trained extra modules"), ("exclude_modules", "excluded modules"),
                     ("target_parameters", "LoRA on parameters"),
                 })
        {
            if (Set(o[key])) throw new FileFormatException(path, key, $"{what} is not supported (got {o[key]!.ToJsonString()}; engine needs null)");
        }
        var bias = JsonFields.String(o, "bias", path);
        if (bias is not null && bias != "none")
            throw new FileFormatException(path, "bias", $"only \"none\" is supported, got \"{bias}\"");
        if (JsonFields.Bool(o, "lora_bias", path, false)) throw new FileFormatException(path, "lora_bias", "LoRA biases are not supported");
        if (JsonFields.Bool(o, "fan_in_fan_out", path, false))
            throw new FileFormatException(path, "fan_in_fan_out", "true is not supported (Llama's projections are [out, in])");
    }

    private static string[] TargetsFromString(string s, string path)
    {
        if (s is "all-linear") return new[] { "all-linear" };
        // PEFT allows a regex; accept the common "...(q_proj|v_proj)" forms by picking the names it mentions.
        var found = LlamaNames.Projections.Select(p => p.Short).Where(s.Contains).ToArray();
        if (found.Length == 0) throw new FileFormatException(path, "target_modules", $"cannot tell which modules \"{s}\" selects");
        return found;
    }

    /// <summary>Loads a saved adapter onto a model (frozen unless <paramref name="trainable"/>).</summary>
    public static LoraAdapter Load(LlamaModel model, string dir, bool trainable = false)
    {
        var options = ReadConfig(dir);
        var path = Path.Combine(dir, WeightsFile);
        if (!File.Exists(path)) throw new EngineException($"--adapter {dir}: no {WeightsFile}");
        using var src = SafeTensorsFile.Open(path);
        var expected = model.Layers.SelectMany(l => options.Targets.SelectMany(p => new[] { LoraAdapter.PeftName(l.Index, p, 'A'), LoraAdapter.PeftName(l.Index, p, 'B') }))
            .ToHashSet(StringComparer.Ordinal);
        var extra = src.Names.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
            throw new FileFormatException(path, extra[0], $"is not explained by {ConfigFile} (target_modules {string.Join(",", options.Targets)}, " +
                $"{model.Layers.Length} layers){(extra.Count > 1 ? $"; {extra.Count - 1} more such tensors" : "")}");
        return LoraAdapter.Attach(model, options, (name, shape) =>
        {
            if (!src.Contains(name)) throw new FileFormatException(path, name, "adapter tensor missing");
            var info = src.Info(name);
            if (!info.Shape.AsSpan().SequenceEqual(shape))
                throw new FileFormatException(path, name, $"shape [{string.Join(", ", info.Shape)}] does not fit the model (expected [{string.Join(", ", shape)}])");
            if (info.DType is not (DType.F32 or DType.F16 or DType.BF16))
                throw new FileFormatException(path, name, $"dtype {info.FileType ?? info.DType.ToString().ToLowerInvariant()} is not f32, f16 or bf16");
            var data = new float[info.NumElements];
            src.ReadFloats(name, data);
            LlamaWeights.RequireFinite(path, name, data);
            return data;
        }, trainable);
    }
}
