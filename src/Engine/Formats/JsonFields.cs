using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Formats;

/// <summary>Typed, optional fields of a JSON object from a config file (config.json, adapter_config.json): absent or
/// null gives the fallback; a value of the wrong type is an error naming the file and the key.</summary>
internal static class JsonFields
{
    public static bool Bool(JsonObject o, string key, string path, bool fallback) => o[key]?.GetValueKind() switch
    {
        null or JsonValueKind.Null => fallback,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FileFormatException(path, key, $"expected true or false, got {o[key]!.ToJsonString()}"),
    };

    /// <summary>A number that must fit a finite 32-bit float.</summary>
    public static float Float(JsonObject o, string key, string path, float fallback)
    {
        var n = o[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null) return fallback;
        if (n.GetValueKind() != JsonValueKind.Number) throw new FileFormatException(path, key, $"expected a number, got {n.ToJsonString()}");
        var v = (float)n.GetValue<double>();
        if (!float.IsFinite(v)) throw new FileFormatException(path, key, $"{n.ToJsonString()} is out of range for a 32-bit float");
        return v;
    }

    public static string? String(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        var n when n.GetValueKind() == JsonValueKind.Null => null,
        var n when n.GetValueKind() == JsonValueKind.String => n.GetValue<string>(),
        var n => throw new FileFormatException(path, key, $"expected a string, got {n.ToJsonString()}"),
    };
}
