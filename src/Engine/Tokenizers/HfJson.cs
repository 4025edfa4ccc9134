using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Tokenizers;

/// <summary>Strict reads of tokenizer.json / tokenizer_config.json fields: each error names the file, the JSON path
/// and what was expected; a key a component does not know is refused rather than ignored.</summary>
internal readonly struct HfJson(string file)
{
    public string File => file;

    public FileFormatException Error(string path, string message) => new(file, path, message);

    public JsonObject Object(JsonNode? node, string path) =>
        node as JsonObject ?? throw Error(path, $"expected an object, got {Show(node)}");

    public JsonArray Array(JsonNode? node, string path) =>
        node as JsonArray ?? throw Error(path, $"expected an array, got {Show(node)}");

    public string String(JsonNode? node, string path) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw Error(path, $"expected a string, got {Show(node)}");

    public string? OptString(JsonObject o, string key, string path) =>
        IsNull(o[key]) ? null : String(o[key], $"{path}.{key}");

    public bool Bool(JsonObject o, string key, string path, bool fallback) => o[key]?.GetValueKind() switch
    {
        null or JsonValueKind.Null => fallback,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error($"{path}.{key}", $"expected true or false, got {Show(o[key])}"),
    };

    public int Int(JsonNode? node, string path)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out long l) && l is >= 0 and <= int.MaxValue)
            return (int)l;
        throw Error(path, $"expected a non-negative integer, got {Show(node)}");
    }

    /// <summary>The "type" of a component object.</summary>
    public string Type(JsonObject o, string path) => String(o["type"], $"{path}.type");

    /// <summary>Refuses keys other than "type" and <paramref name="known"/>.</summary>
    public void OnlyKeys(JsonObject o, string path, params string[] known)
    {
        foreach (var (key, _) in o)
            if (key != "type" && System.Array.IndexOf(known, key) < 0)
                throw Error($"{path}.{key}", $"is not supported here (expected only {string.Join(", ", known.Prepend("type"))})");
    }

    public static bool IsNull(JsonNode? n) => n is null || n.GetValueKind() == JsonValueKind.Null;

    public static string Show(JsonNode? n)
    {
        if (n is null) return "nothing";
        var s = n.ToJsonString();
        return s.Length > 80 ? s[..80] + "…" : s;
    }
}
