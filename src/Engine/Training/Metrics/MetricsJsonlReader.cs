using System.Text.Json;

namespace Engine.Training.Metrics;

/// <summary>Reads metrics.jsonl as written by <see cref="MetricsJsonlWriter"/>.</summary>
internal static class MetricsJsonlReader
{
    /// <summary>All records in file order. Blank lines are skipped; an unterminated last line that does not parse is
    /// taken for a write cut short by a kill and skipped too; any other bad line is an error naming its number.</summary>
    public static IReadOnlyList<StepMetrics> Read(string path)
    {
        var content = File.ReadAllBytes(path);
        var records = new List<StepMetrics>();
        foreach (var line in JsonlLine.Split(content))
        {
            if (line.IsBlank(content)) continue;
            try
            {
                records.Add(Parse(content.AsMemory(line.Start, line.Length), path, line.Number));
            }
            catch (FileFormatException) when (!line.Terminated) { }
        }
        return records;
    }

    internal static long ReadStep(ReadOnlySpan<byte> line, string path, int lineNumber)
    {
        var reader = new Utf8JsonReader(line);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Bad(path, lineNumber, "expected a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isStep = reader.ValueTextEquals("step"u8);
                reader.Read();
                if (isStep)
                {
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long step)) return step;
                    throw Bad(path, lineNumber, "\"step\" is not an integer");
                }
                reader.Skip();
            }
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, $"line {lineNumber}", $"not valid JSON: {e.Message}", e);
        }
        throw Bad(path, lineNumber, "no \"step\" field");
    }

    private static StepMetrics Parse(ReadOnlyMemory<byte> line, string path, int lineNumber)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new FileFormatException(path, $"line {lineNumber}", $"not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, lineNumber, "expected a JSON object");
            if (!root.TryGetProperty("step", out var stepElement) || !stepElement.TryGetInt64(out long step))
                throw Bad(path, lineNumber, "missing or non-integer \"step\"");
            Dictionary<string, double>? extra = null;
            foreach (var p in root.EnumerateObject())
            {
                if (Array.IndexOf(MetricsJsonlWriter.FixedFields, p.Name) >= 0) continue;
                (extra ??= new())[p.Name] = Number(p.Value, p.Name, path, lineNumber);
            }
            return new StepMetrics
            {
                Step = step,
                Epoch = Optional(root, "epoch", path, lineNumber) ?? 0,
                Loss = Optional(root, "loss", path, lineNumber) ?? double.NaN,
                LearningRate = Optional(root, "lr", path, lineNumber) ?? 0,
                GradNorm = Optional(root, "grad_norm", path, lineNumber) ?? 0,
                TokensPerSecond = Optional(root, "tokens_per_s", path, lineNumber) ?? 0,
                EvalLoss = Optional(root, "eval_loss", path, lineNumber),
                Extra = extra,
            };
        }
    }

    private static double? Optional(JsonElement root, string name, string path, int lineNumber) =>
        root.TryGetProperty(name, out var e) ? Number(e, name, path, lineNumber) : null;

    private static double Number(JsonElement e, string name, string path, int lineNumber)
    {
        if (e.ValueKind == JsonValueKind.Number) return e.GetDouble();
        if (e.ValueKind == JsonValueKind.String)
            switch (e.GetString())
            {
                case "NaN": return double.NaN;
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
            }
        throw Bad(path, lineNumber, $"\"{name}\" is not a number");
    }

    private static FileFormatException Bad(string path, int lineNumber, string problem) => new(path, $"line {lineNumber}", problem);
}
