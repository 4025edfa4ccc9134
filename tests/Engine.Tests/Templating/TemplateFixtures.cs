using System.Runtime.CompilerServices;
using System.Text.Json;
using Engine.Templating;
using Engine.Tests.Support;

namespace Engine.Tests.Templating;

/// <summary>The committed template fixtures (Templates/*.jinja), the jinja2 reference outputs
/// (Reference/expected.json, written by Reference/render.py) and the two templates read from shared data.</summary>
internal static class TemplateFixtures
{
    public static readonly DateTime FixedNow = new(2024, 7, 26, 9, 5, 0);

    private static string Here([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    public static string TemplatesDir => Path.Combine(Here(), "Templates");

    public static readonly Dictionary<string, string> Shared = new()
    {
        ["llama3_1"] = "hf-tokenizers/llama3_1/tokenizer_config.json",
        ["qwen3"] = "hf-tokenizers/qwen3/tokenizer_config.json",
    };

    /// <summary>The template text: the fixture file, or chat_template of a shared tokenizer_config.json (skips when
    /// shared data is absent).</summary>
    public static string Text(string name)
    {
        if (Shared.TryGetValue(name, out var rel))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Require(rel)));
            return doc.RootElement.GetProperty("chat_template").GetString()!;
        }
        return File.ReadAllText(Path.Combine(TemplatesDir, name + ".jinja"));
    }

    public static JinjaTemplate Parse(string name) => JinjaTemplate.Parse(Text(name), name + ".jinja");

    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Here(), "Reference", "expected.json"))));

    public static JsonElement Root => Expected.Value.RootElement;

    public static IEnumerable<JsonElement> Cases(string template) =>
        Root.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("template").GetString() == template);

    /// <summary>A JSON value as a template context value (objects → string-keyed dictionaries, keeping order).</summary>
    public static object? ToValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(ToValue).ToList(),
        JsonValueKind.Object => ToDict(e),
        _ => throw new ArgumentException(e.ValueKind.ToString()),
    };

    private static System.Collections.Specialized.OrderedDictionary ToDict(JsonElement e)
    {
        var d = new System.Collections.Specialized.OrderedDictionary();
        foreach (var p in e.EnumerateObject()) d[p.Name] = ToValue(p.Value);
        return d;
    }
}
