using System.Text.Json;

namespace Engine.Data;

/// <summary>Where a record came from, for error messages, plus typed field access that fails with a message naming
/// the file, record, id and field.</summary>
internal readonly struct RecordContext
{
    public RecordContext(string path, int index, string? id)
    {
        Path = path;
        Index = index;
        Id = id;
    }

    public string Path { get; }
    public int Index { get; }
    public string? Id { get; }

    /// <summary>The context of a JSON record: its "id" (string or number) is picked up when present.</summary>
    public static RecordContext Of(string path, JsonRecord record)
    {
        string? id = null;
        if (record.Value.ValueKind == JsonValueKind.Object && record.Value.TryGetProperty("id", out var idValue))
            id = idValue.ValueKind switch
            {
                JsonValueKind.String => TryString(idValue),
                JsonValueKind.Number => idValue.GetRawText(),
                _ => null,
            };
        return new RecordContext(path, record.Index, id);
    }

    public DataFormatException Error(string? field, string problem) => new(Path, Index, Id, field, problem);

    public void RequireObject(JsonElement e, string? field)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Error(field, $"expected a JSON object, got {Kind(e)}");
    }

    /// <summary>A required string property of an object.</summary>
    public string String(JsonElement obj, string name, string field)
    {
        if (!obj.TryGetProperty(name, out var v)) throw Error(field, $"missing (fields present: {FieldList(obj)})");
        if (v.ValueKind != JsonValueKind.String) throw Error(field, $"expected a string, got {Kind(v)}");
        return Text(v, field);
    }

    /// <summary>An optional string property: null when absent or JSON null.</summary>
    public string? OptionalString(JsonElement obj, string name, string field)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw Error(field, $"expected a string, got {Kind(v)}");
        return Text(v, field);
    }

    /// <summary>The value of a JSON string; an escape that is not valid UTF-16 (a lone surrogate such as "\ud800") is an
    /// error naming the field.</summary>
    private string Text(JsonElement v, string field)
    {
        try { return v.GetString()!; }
        catch (InvalidOperationException e)
        {
            throw new DataFormatException(Path, Index, Id, field, $"the string is not valid Unicode ({e.Message.TrimEnd('.')}); a \\u escape must not be a lone surrogate", e);
        }
    }

    private static string? TryString(JsonElement v)
    {
        try { return v.GetString(); }
        catch (InvalidOperationException) { return null; }
    }

    public JsonElement Array(JsonElement obj, string name, string field)
    {
        if (!obj.TryGetProperty(name, out var v)) throw Error(field, $"missing (fields present: {FieldList(obj)})");
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, $"expected a JSON array, got {Kind(v)}");
        return v;
    }

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    public static string FieldList(JsonElement obj)
    {
        var names = obj.EnumerateObject().Select(p => p.Name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }
}
