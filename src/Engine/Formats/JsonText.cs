using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Formats;

/// <summary>JSON read strictly: the bytes must be UTF-8 (RFC 8259) and every string and key must decode (no escaped
/// lone surrogate such as "\ud800"). System.Text.Json checks string contents only when a string is read, so without
/// this a bad byte deep in a file surfaces later as an InvalidOperationException that names no file.</summary>
internal static class JsonText
{
    /// <summary>Reads a JSON file whose top level must be an object; errors name the file and <paramref name="field"/>.</summary>
    public static JsonObject ReadObject(string path, string field = "JSON")
    {
        var bytes = File.ReadAllBytes(path);
        if (Utf8Scan.FirstInvalid(bytes) is var bad and >= 0) throw new FileFormatException(path, field, $"is not valid UTF-8 (at byte {bad})");
        JsonNode? root;
        try
        {
            using (var doc = JsonDocument.Parse(bytes))
                if (Find(doc.RootElement, "$", 0, duplicates: true) is string where) throw new FileFormatException(path, field, where);
            root = JsonNode.Parse(bytes);
        }
        catch (JsonException e) { throw new FileFormatException(path, field, $"not valid JSON ({e.Message})"); }
        return root as JsonObject ?? throw new FileFormatException(path, field, "expected an object at the top level");
    }

    /// <summary>A description of the first string or key that is not valid text (bad UTF-8 or an escaped lone
    /// surrogate), with its JSON path; null when every string decodes.</summary>
    public static string? FindInvalidString(JsonElement e) => Find(e, "$", 0, duplicates: false);

    private static string? Find(JsonElement e, string where, int depth, bool duplicates)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(e) ? null : $"the string at {where} is not valid text (not UTF-8, or an escaped lone surrogate)";
            case JsonValueKind.Object:
                // JsonObject (JsonNode) refuses a repeated key only when first read, with an ArgumentException.
                var seen = duplicates ? new HashSet<string>(StringComparer.Ordinal) : null;
                foreach (var p in e.EnumerateObject())
                {
                    string name;
                    try { name = p.Name; }
                    catch (InvalidOperationException) { return $"a key in {where} is not valid text (not UTF-8, or an escaped lone surrogate)"; }
                    if (seen is not null && !seen.Add(name)) return $"the key \"{name}\" appears twice in {where}";
                    if (Find(p.Value, depth < 8 ? $"{where}.{name}" : where, depth + 1, duplicates) is string s) return s;
                }
                return null;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var x in e.EnumerateArray())
                {
                    if (Find(x, depth < 8 ? $"{where}[{i}]" : where, depth + 1, duplicates) is string s) return s;
                    i++;
                }
                return null;
            default:
                return null;
        }
    }

    private static bool Decodes(JsonElement e)
    {
        try { _ = e.GetString(); return true; }
        catch (InvalidOperationException) { return false; }
    }
}
