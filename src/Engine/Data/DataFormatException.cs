namespace Engine.Data;

/// <summary>A training-data file that cannot be read: the message names the file, the record (0-based index and its
/// "id" when it has one), the field, and what was expected, e.g.
/// <c>data.json: record 3 (id "identity_3"), field conversations[1].from: unknown role "bot"; expected ...</c>.</summary>
internal sealed class DataFormatException : FileFormatException
{
    public DataFormatException(string path, int? record, string? recordId, string? field, string problem, Exception? inner = null)
        : base(path, Where(record, recordId, field), problem, inner!)
    {
        Record = record;
        RecordId = recordId;
        Field = field;
    }

    /// <summary>0-based index of the record (JSON element, JSONL/CSV data row, text block), when one is at fault.</summary>
    public int? Record { get; }
    public string? RecordId { get; }
    public string? Field { get; }

    private static string Where(int? record, string? id, string? field)
    {
        var parts = new List<string>(2);
        if (record is int r) parts.Add(id is null ? $"record {r}" : $"record {r} (id \"{id}\")");
        if (field is not null) parts.Add($"field {field}");
        return parts.Count == 0 ? "file" : string.Join(", ", parts);
    }
}
