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

    public static void Save(LoraAdapter adapter, string dir, string? baseModel)
    {
        Directory.CreateDirectory(dir);
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
        var type = OptionalString(o, "peft_type", path);
        if (type is not null && type != "LORA") throw new FileFormatException(path, "peft_type", $"only LORA adapters are supported, got \"{type}\"");
        if (o["use_dora"] is JsonValue d && d.GetValueKind() == JsonValueKind.True) throw new FileFormatException(path, "use_dora", "DoRA adapters are not supported");
        if (o["rank_pattern"] is JsonObject rp && rp.Count > 0) throw new FileFormatException(path, "rank_pattern", "per-module ranks are not supported");
        if (o["alpha_pattern"] is JsonObject ap && ap.Count > 0) throw new FileFormatException(path, "alpha_pattern", "per-module alphas are not supported");
        int r = o["r"] is JsonValue rv && rv.TryGetValue<int>(out var ri) ? ri : throw new FileFormatException(path, "r", "missing or not an integer");
        float alpha = Number(o, "lora_alpha", path, 8f);
        float dropout = Number(o, "lora_dropout", path, 0f);
        string[] targets = o["target_modules"] switch
        {
            JsonArray a => a.Select(x => x is JsonValue xv && xv.GetValueKind() == JsonValueKind.String ? xv.GetValue<string>()
                : throw new FileFormatException(path, "target_modules", $"expected module names (strings), got {x?.ToJsonString() ?? "null"}")).ToArray(),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => TargetsFromString(v.GetValue<string>(), path),
            _ => throw new FileFormatException(path, "target_modules", "missing; expected a list of module names"),
        };
        bool rs = o["use_rslora"] is JsonValue u && u.GetValueKind() == JsonValueKind.True;
        string[] parsed;
        try { parsed = LoraOptions.ParseTargets(string.Join(",", targets)); }
        catch (EngineException e) { throw new FileFormatException(path, "target_modules", e.Message); }
        return new LoraOptions { R = r, Alpha = alpha, Dropout = dropout, Targets = parsed, UseRslora = rs };
    }

    private static string? OptionalString(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        var n => throw new FileFormatException(path, key, $"expected a string, got {n.ToJsonString()}"),
    };

    private static float Number(JsonObject o, string key, string path, float fallback) => o[key] switch
    {
        null => fallback,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => (float)v.GetValue<double>(),
        var n => throw new FileFormatException(path, key, $"expected a number, got {n.ToJsonString()}"),
    };

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
        return LoraAdapter.Attach(model, options, (name, shape) =>
        {
            if (!src.Contains(name)) throw new FileFormatException(path, name, "adapter tensor missing");
            var info = src.Info(name);
            if (!info.Shape.AsSpan().SequenceEqual(shape))
                throw new FileFormatException(path, name, $"shape [{string.Join(", ", info.Shape)}] does not fit the model (expected [{string.Join(", ", shape)}])");
            var data = new float[info.NumElements];
            src.ReadFloats(name, data);
            return data;
        }, trainable);
    }
}
