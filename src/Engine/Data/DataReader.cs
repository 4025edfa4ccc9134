using System.Text;
using System.Text.Json;

namespace Engine.Data;

/// <summary>Reads a training-data file into samples, detecting the layout.
/// <list type="bullet">
/// <item>.txt/.text/.md: plain text blocks (<see cref="PlainTextReader"/>).</item>
/// <item>.csv: RFC 4180 with a "text" column.</item>
/// <item>.json, .jsonl, .ndjson and anything else starting with '[' or '{': a JSON array of records, or one record per line.
/// The record layout comes from record 0's fields: "conversations" (ShareGPT/Vicuna), "messages" (OpenAI), "instruction"
/// (Alpaca) or "text"; every record must then have that layout.</item>
/// <item>Any other extension: read as plain text.</item>
/// </list></summary>
internal static class DataReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Dataset Read(string path)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, null, null, null, "file not found");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException e) { throw new DataFormatException(path, null, null, null, $"cannot read the file: {e.Message}", e); }
        catch (UnauthorizedAccessException e) { throw new DataFormatException(path, null, null, null, $"cannot read the file: {e.Message}", e); }
        return Read(path, bytes);
    }

    /// <summary>Reads file contents already in memory; <paramref name="path"/> names the file in messages and its
    /// extension picks the reader.</summary>
    public static Dataset Read(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        int first = bytes.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0) throw new DataFormatException(path, null, null, null, "the file is empty");

        var ext = Path.GetExtension(path).ToLowerInvariant();
        switch (ext)
        {
            case ".txt" or ".text" or ".md":
                return ReadPlainText(path, bytes);
            case ".csv":
                return ReadCsv(path, bytes);
            case ".jsonl" or ".ndjson":
                return FromRecords(path, JsonRecords.ReadLines(path, bytes));
            case ".json":
                if (bytes[first] == '[') return FromRecords(path, JsonRecords.ReadArray(path, bytes));
                if (bytes[first] == '{') return FromRecords(path, ReadJsonObjectFile(path, bytes));
                throw new DataFormatException(path, null, null, null,
                    $"expected a JSON array of records ('[') or JSON Lines ('{{' per line), found '{(char)bytes[first]}'");
            default:
                if (bytes[first] == '[') return FromRecords(path, JsonRecords.ReadArray(path, bytes));
                if (bytes[first] == '{') return FromRecords(path, JsonRecords.ReadLines(path, bytes));
                return ReadPlainText(path, bytes);
        }
    }

    /// <summary>A .json file that starts with '{' is JSONL unless the whole file is one multi-line object, which
    /// is a layout we do not guess at.</summary>
    private static List<JsonRecord> ReadJsonObjectFile(string path, ReadOnlySpan<byte> bytes)
    {
        int firstNewline = bytes.TrimEnd(" \t\r\n"u8).IndexOf((byte)'\n');
        if (firstNewline >= 0)
        {
            try
            {
                var reader = new Utf8JsonReader(bytes);
                using var doc = JsonDocument.ParseValue(ref reader);
                if (!reader.Read())
                    throw new DataFormatException(path, null, null, null,
                        $"the file is one JSON object (fields: {RecordContext.FieldList(doc.RootElement)}); expected a JSON array of records or one record per line (JSONL)");
            }
            catch (JsonException) { /* not a single document: read it as JSONL, which reports the error by line */ }
        }
        return JsonRecords.ReadLines(path, bytes);
    }

    private static Dataset ReadPlainText(string path, ReadOnlySpan<byte> bytes)
    {
        var samples = PlainTextReader.Read(Decode(path, bytes));
        if (samples.Count == 0) throw new DataFormatException(path, null, null, null, "the dataset is empty: no non-blank text");
        return new Dataset(path, DataFormat.Text, samples, Array.Empty<string>());
    }

    private static Dataset ReadCsv(string path, ReadOnlySpan<byte> bytes)
    {
        var samples = CsvReader.Read(path, Decode(path, bytes), out int blank);
        var notes = new List<string>();
        if (blank > 0) notes.Add($"{blank} row(s) with an empty \"text\" were skipped");
        if (samples.Count == 0) throw new DataFormatException(path, null, null, "text", "the dataset is empty: every \"text\" value is blank");
        return new Dataset(path, DataFormat.Text, samples, notes);
    }

    private static string Decode(string path, ReadOnlySpan<byte> bytes)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException e)
        {
            throw new DataFormatException(path, null, null, null, $"not valid UTF-8 (at byte {e.Index})", e);
        }
    }

    private static Dataset FromRecords(string path, List<JsonRecord> records)
    {
        if (records.Count == 0) throw new DataFormatException(path, null, null, null, "the dataset is empty: no records");
        var format = Detect(path, records[0]);
        var samples = new List<Sample>(records.Count);
        int skippedFirstTurns = 0, blankTexts = 0;
        foreach (var record in records)
        {
            var ctx = RecordContext.Of(path, record);
            bool skipped = false;
            switch (format)
            {
                case DataFormat.ShareGpt: samples.Add(ShareGptReader.Read(ctx, record.Value, out skipped)); break;
                case DataFormat.OpenAiMessages: samples.Add(OpenAiMessagesReader.Read(ctx, record.Value, out skipped)); break;
                case DataFormat.Alpaca: samples.Add(AlpacaReader.Read(ctx, record.Value)); break;
                default:
                    ctx.RequireObject(record.Value, null);
                    if (!record.Value.TryGetProperty("text", out _))
                        throw ctx.Error("text", $"missing: no \"text\" column (columns found: {RecordContext.FieldList(record.Value)})");
                    var text = ctx.String(record.Value, "text", "text");
                    if (string.IsNullOrWhiteSpace(text)) blankTexts++;
                    else samples.Add(new TextSample(ctx.Index, ctx.Id, text));
                    break;
            }
            if (skipped) skippedFirstTurns++;
        }
        var notes = new List<string>();
        if (skippedFirstTurns > 0)
            notes.Add($"{skippedFirstTurns} conversation(s) started with an assistant turn; that turn was skipped (as FastChat does)");
        if (blankTexts > 0) notes.Add($"{blankTexts} record(s) with an empty \"text\" were skipped");
        if (samples.Count == 0) throw new DataFormatException(path, null, null, "text", "the dataset is empty: every \"text\" value is blank");
        return new Dataset(path, format, samples, notes);
    }

    private static DataFormat Detect(string path, JsonRecord first)
    {
        var ctx = RecordContext.Of(path, first);
        ctx.RequireObject(first.Value, null);
        var v = first.Value;
        if (v.TryGetProperty(ShareGptReader.Key, out _)) return DataFormat.ShareGpt;
        if (v.TryGetProperty(OpenAiMessagesReader.Key, out _)) return DataFormat.OpenAiMessages;
        if (v.TryGetProperty(AlpacaReader.Key, out _)) return DataFormat.Alpaca;
        if (v.TryGetProperty("text", out _)) return DataFormat.Text;
        throw ctx.Error(null,
            $"cannot tell the data format from the fields present ({RecordContext.FieldList(v)}); expected \"conversations\" " +
            "(ShareGPT/Vicuna), \"messages\" (OpenAI), \"instruction\"+\"output\" (Alpaca) or a \"text\" column");
    }
}
