using System.Text.Json;
using Engine.Formats;

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
    /// <summary>Reads the whole file into a <see cref="Dataset"/> (for small files and tests; training streams through
    /// <see cref="Open(string)"/>).</summary>
    public static Dataset Read(string path)
    {
        using var source = Open(path);
        return source.ToDataset();
    }

    /// <summary>Reads file contents already in memory; <paramref name="path"/> names the file in messages and its
    /// extension picks the reader.</summary>
    public static Dataset Read(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        using var source = Open(path, () => new MemoryStream(copy, writable: false));
        return source.ToDataset();
    }

    /// <summary>Opens the file for one streaming pass over its samples: the layout is detected (and record 0 read) now,
    /// the rest is read as <see cref="DataSource.Samples"/> is enumerated.</summary>
    public static DataSource Open(string path) => Open(path, () => DataInput.Open(path));

    private static DataSource Open(string path, Func<Stream> open)
    {
        var (first, firstByte) = Sniff(path, open);
        var ext = Path.GetExtension(path).ToLowerInvariant();
        switch (ext)
        {
            case ".txt" or ".text" or ".md":
                return PlainText(path, open);
            case ".csv":
                return Csv(path, open);
            case ".jsonl" or ".ndjson":
                return FromRecords(path, JsonRecords.ReadLines(path, first));
            case ".json":
                if (firstByte == '[') return FromRecords(path, JsonRecords.ReadArray(path, first));
                if (firstByte == '{') return FromRecords(path, JsonRecords.ReadLines(path, first), oneObjectCheck: open);
                first.Dispose();
                throw new DataFormatException(path, null, null, null,
                    $"expected a JSON array of records ('[') or JSON Lines ('{{' per line), found '{(char)firstByte}'");
            default:
                if (firstByte == '[') return FromRecords(path, JsonRecords.ReadArray(path, first));
                if (firstByte == '{') return FromRecords(path, JsonRecords.ReadLines(path, first));
                first.Dispose();
                return PlainText(path, open);
        }
    }

    /// <summary>The first significant byte (after a BOM and whitespace), with the stream rewound to the start (past the BOM).</summary>
    private static (Stream Stream, byte First) Sniff(string path, Func<Stream> open)
    {
        var stream = open();
        try
        {
            var buffer = new byte[1 << 16];
            bool atStart = true;
            while (true)
            {
                int n = stream.ReadAtLeast(buffer, atStart ? 3 : 1, throwOnEndOfStream: false);
                if (n == 0) throw new DataFormatException(path, null, null, null, "the file is empty");
                var span = buffer.AsSpan(0, n);
                if (atStart && span.StartsWith("\uFEFF"u8)) span = span[3..];
                atStart = false;
                int first = span.IndexOfAnyExcept(" \t\r\n"u8);
                if (first < 0) continue;
                byte b = span[first];
                stream.Position = 0;
                var bom = new byte[3];
                if (stream.ReadAtLeast(bom, 3, throwOnEndOfStream: false) != 3 || !bom.AsSpan().SequenceEqual("\uFEFF"u8)) stream.Position = 0;
                return (stream, b);
            }
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static DataSource PlainText(string path, Func<Stream> open)
    {
        var source = new DataSource(path, DataFormat.Text);
        source.SetSamples(Samples());
        return source;

        IEnumerable<Sample> Samples()
        {
            bool any = false;
            foreach (var s in PlainTextReader.Read(path, open)) { any = true; yield return s; }
            if (!any) throw new DataFormatException(path, null, null, null, "the dataset is empty: no non-blank text");
        }
    }

    private static DataSource Csv(string path, Func<Stream> open)
    {
        var source = new DataSource(path, DataFormat.Text);
        source.SetSamples(Samples());
        return source;

        IEnumerable<Sample> Samples()
        {
            using var stream = open();
            int blank = 0;
            bool any = false;
            foreach (var s in CsvReader.Read(path, CsvParser.Parse(path, new StrictUtf8CharReader(stream, path)), b => blank = b))
            {
                any = true;
                yield return s;
            }
            if (blank > 0) source.Notes.Add($"{blank} row(s) with an empty \"text\" were skipped");
            if (!any) throw new DataFormatException(path, null, null, "text", "the dataset is empty: every \"text\" value is blank");
        }
    }

    /// <summary>Samples of JSON records; the layout comes from record 0, read now. With <paramref name="oneObjectCheck"/>
    /// (a .json file starting with '{'), a file that is one multi-line object is named as such rather than as bad JSONL.</summary>
    private static DataSource FromRecords(string path, IEnumerable<JsonRecord> records, Func<Stream>? oneObjectCheck = null)
    {
        var e = records.GetEnumerator();
        try
        {
            bool any;
            try { any = e.MoveNext(); }
            catch (DataFormatException) when (oneObjectCheck is not null)
            {
                CheckNotOneObject(path, oneObjectCheck);
                throw;
            }
            if (!any) throw new DataFormatException(path, null, null, null, "the dataset is empty: no records");
            var format = Detect(path, e.Current);
            var source = new DataSource(path, format, e);
            source.SetSamples(Samples(source, format, e));
            return source;
        }
        catch
        {
            e.Dispose();
            throw;
        }
    }

    private static IEnumerable<Sample> Samples(DataSource source, DataFormat format, IEnumerator<JsonRecord> e)
    {
        string path = source.Path;
        int skippedFirstTurns = 0, blankTexts = 0;
        bool any = false;
        do
        {
            var record = e.Current;
            var ctx = RecordContext.Of(path, record);
            bool skipped = false;
            Sample? sample;
            switch (format)
            {
                case DataFormat.ShareGpt: sample = ShareGptReader.Read(ctx, record.Value, out skipped); break;
                case DataFormat.OpenAiMessages: sample = OpenAiMessagesReader.Read(ctx, record.Value, out skipped); break;
                case DataFormat.Alpaca: sample = AlpacaReader.Read(ctx, record.Value); break;
                default:
                    ctx.RequireObject(record.Value, null);
                    if (!record.Value.TryGetProperty("text", out _))
                        throw ctx.Error("text", $"missing: no \"text\" column (columns found: {RecordContext.FieldList(record.Value)})");
                    var text = ctx.String(record.Value, "text", "text");
                    if (string.IsNullOrWhiteSpace(text)) { blankTexts++; sample = null; }
                    else sample = new TextSample(ctx.Index, ctx.Id, text);
                    break;
            }
            if (skipped) skippedFirstTurns++;
            if (sample is not null)
            {
                any = true;
                yield return sample;
            }
        }
        while (e.MoveNext());
        if (skippedFirstTurns > 0)
            source.Notes.Add($"{skippedFirstTurns} conversation(s) started with an assistant turn; that turn was skipped (as FastChat does)");
        if (blankTexts > 0) source.Notes.Add($"{blankTexts} record(s) with an empty \"text\" were skipped");
        if (!any) throw new DataFormatException(path, null, null, "text", "the dataset is empty: every \"text\" value is blank");
    }

    /// <summary>A .json file that starts with '{' is JSONL unless the whole file is one multi-line object, which is a
    /// layout we do not guess at (checked for files up to the record limit, when line 1 is not a record).</summary>
    private static void CheckNotOneObject(string path, Func<Stream> open)
    {
        byte[] bytes;
        using (var stream = open())
        {
            if (stream.Length > DataInput.MaxRecordBytes) return;
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        if (span.TrimEnd(" \t\r\n"u8).IndexOf((byte)'\n') < 0 || Utf8Scan.FirstInvalid(span) >= 0) return;
        try
        {
            var reader = new Utf8JsonReader(span);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (!reader.Read())
                throw new DataFormatException(path, null, null, null,
                    $"the file is one JSON object (fields: {RecordContext.FieldList(doc.RootElement)}); expected a JSON array of records or one record per line (JSONL)");
        }
        catch (JsonException) { /* not a single document: the JSONL error stands */ }
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

/// <summary>One streaming pass over a data file: <see cref="Format"/> is known when it opens; <see cref="Samples"/> may be
/// enumerated once, reading the file as it goes; <see cref="Notes"/> (skipped records) is complete after that.</summary>
internal sealed class DataSource(string path, DataFormat format, IDisposable? owned = null) : IDisposable
{
    private IEnumerable<Sample>? _samples;

    public string Path { get; } = path;
    public DataFormat Format { get; } = format;
    public List<string> Notes { get; } = new();

    public IEnumerable<Sample> Samples
    {
        get
        {
            var s = _samples ?? throw new InvalidOperationException("the samples of a data source are read once");
            _samples = null;
            return s;
        }
    }

    internal void SetSamples(IEnumerable<Sample> samples) => _samples = samples;

    public Dataset ToDataset()
    {
        var samples = Samples.ToList();
        return new Dataset(Path, Format, samples, Notes);
    }

    public void Dispose() => owned?.Dispose();
}
