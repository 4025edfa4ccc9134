using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Checkpoints;

/// <summary>The <c>quantization_config</c> entry of an HF config.json for a bitsandbytes 4-bit model, as transformers
/// writes <c>BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=...,
/// bnb_4bit_compute_dtype="bfloat16").to_dict()</c> (keys sorted, as config.json is saved with sort_keys).</summary>
internal static class BnbQuantizationConfig
{
    public const string Key = "quantization_config";

    public static JsonObject Nf4(bool doubleQuant, string computeDType = "bfloat16") => new()
    {
        ["_load_in_4bit"] = true,
        ["_load_in_8bit"] = false,
        ["bnb_4bit_compute_dtype"] = computeDType,
        ["bnb_4bit_quant_storage"] = "uint8",
        ["bnb_4bit_quant_type"] = "nf4",
        ["bnb_4bit_use_double_quant"] = doubleQuant,
        ["llm_int8_enable_fp32_cpu_offload"] = false,
        ["llm_int8_has_fp16_weight"] = false,
        ["llm_int8_skip_modules"] = null,
        ["llm_int8_threshold"] = 6.0,
        ["load_in_4bit"] = true,
        ["load_in_8bit"] = false,
        ["quant_method"] = "bitsandbytes",
    };

    /// <summary>Accepts a config.json without quantization or with bitsandbytes NF4 (the weights themselves say which
    /// projections are quantized); anything else is a clear error rather than garbage weights.</summary>
    public static void Check(string configPath)
    {
        JsonObject? root;
        root = JsonText.ReadObject(configPath);
        if (root?[Key] is not JsonObject q) return;
        string? method = Str(q, "quant_method");
        if (method is not null && method != "bitsandbytes")
            throw new FileFormatException(configPath, Key + ".quant_method", $"\"{method}\" checkpoints are not supported; engine loads bitsandbytes NF4");
        if (Flag(q, "load_in_8bit") || Flag(q, "_load_in_8bit"))
            throw new FileFormatException(configPath, Key + ".load_in_8bit", "8-bit bitsandbytes (LLM.int8) checkpoints are not supported; engine loads 4-bit NF4");
        string? type = Str(q, "bnb_4bit_quant_type");
        if (type is not null && type != "nf4")
            throw new FileFormatException(configPath, Key + ".bnb_4bit_quant_type", $"\"{type}\" is not supported; engine loads NF4");
    }

    private static string? Str(JsonObject o, string key) =>
        o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static bool Flag(JsonObject o, string key) => o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.True;
}
