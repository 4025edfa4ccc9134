using System.Text.Json;

namespace Engine.Data;

/// <summary>One top-level record of a JSON array or JSONL file.</summary>
/// <param name="Line">1-based line where the record starts.</param>
internal readonly record struct JsonRecord(int Index, int Line, JsonElement Value);

/// <summary>Splits a JSON array or a JSONL file into records, turning syntax errors into a
/// <see cref="DataFormatException"/> that names the record being read and the line/byte where parsing stopped.</summary>
internal static class JsonRecords
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip };
    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Records of a document whose first significant character is '['.</summary>
    public static List<JsonRecord> ReadArray(string path, ReadOnlySpan<byte> utf8)
    {
        var records = new List<JsonRecord>();
        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw new DataFormatException(path, null, null, null, "expected a JSON array of records");
            int line = 1, lineCountedTo = 0;
            while (true)
            {
                if (!reader.Read()) throw new DataFormatException(path, records.Count, null, null, "invalid JSON: the array is not closed (file truncated?)");
                if (reader.TokenType == JsonTokenType.EndArray) break;
                int at = (int)reader.TokenStartIndex;
                line += utf8[lineCountedTo..at].Count((byte)'\n');
                lineCountedTo = at;
                using var doc = JsonDocument.ParseValue(ref reader);
                CheckText(path, records.Count, line, doc.RootElement);
                records.Add(new JsonRecord(records.Count, line, doc.RootElement.Clone()));
            }
            if (reader.Read())
                throw new DataFormatException(path, null, null, null, $"invalid JSON: unexpected {reader.TokenType} after the closing ']' at line {LineOf(utf8, (int)reader.TokenStartIndex)}");
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, records.Count, null, null, Describe(e, lineOffset: 0), e);
        }
        return records;
    }

    /// <summary>Records of a JSON Lines file: one JSON value per non-blank line.</summary>
    public static List<JsonRecord> ReadLines(string path, ReadOnlySpan<byte> utf8)
    {
        var records = new List<JsonRecord>();
        int line = 0, start = 0;
        while (start < utf8.Length)
        {
            line++;
            int nl = utf8[start..].IndexOf((byte)'\n');
            int end = nl < 0 ? utf8.Length : start + nl;
            var text = utf8[start..end];
            start = end + 1;
            if (IsBlank(text)) continue;
            try
            {
                var reader = new Utf8JsonReader(text, ReaderOptions);
                using var doc = JsonDocument.ParseValue(ref reader);
                if (reader.Read())
                    throw new DataFormatException(path, records.Count, null, null, $"invalid JSON at line {line}: more than one value on the line (JSONL holds one record per line)");
                CheckText(path, records.Count, line, doc.RootElement);
                records.Add(new JsonRecord(records.Count, line, doc.RootElement.Clone()));
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, records.Count, null, null, Describe(e, lineOffset: line - 1), e);
            }
        }
        return records;
    }

    /// <summary>JSON text must be UTF-8 and its strings must decode; System.Text.Json checks a string only when it
    /// is read, so a bad byte is caught here, naming the record and line, rather than by whoever reads it.</summary>
    private static void CheckText(string path, int index, int line, JsonElement record)
    {
        if (Formats.JsonText.FindInvalidString(record) is string bad)
            throw new DataFormatException(path, index, null, null, $"{bad} (record starting at line {line})");
    }

    private static string Describe(JsonException e, int lineOffset)
    {
        // JsonException.Message ends with "LineNumber: n | BytePositionInLine: m."; we restate the position 1-based.
        var msg = e.Message;
        int cut = msg.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) msg = msg[..cut].TrimEnd();
        long line = (e.LineNumber ?? 0) + 1 + lineOffset;
        long pos = (e.BytePositionInLine ?? 0) + 1;
        return $"invalid JSON at line {line}, byte {pos}: {msg}";
    }

    private static int LineOf(ReadOnlySpan<byte> utf8, int offset) => utf8[..Math.Min(offset, utf8.Length)].Count((byte)'\n') + 1;

    private static bool IsBlank(ReadOnlySpan<byte> s)
    {
        foreach (var b in s) if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }
}
