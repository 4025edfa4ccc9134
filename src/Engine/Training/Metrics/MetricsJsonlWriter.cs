using System.Buffers;
using System.Text.Json;

namespace Engine.Training.Metrics;

/// <summary>Appends one JSON object per logged step to a metrics.jsonl file, flushing each line:
/// {"step":12,"epoch":0.5,"loss":2.31,"lr":0.0002,"grad_norm":1.1,"tokens_per_s":12340,"eval_loss":2.4,...extra}.
/// Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no literal for them; these
/// are the names System.Text.Json and pandas accept).</summary>
internal sealed class MetricsJsonlWriter : IDisposable
{
    internal static readonly string[] FixedFields = ["step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "eval_loss"];

    private readonly FileStream _stream;
    private readonly ArrayBufferWriter<byte> _line = new(256);

    /// <summary>Opens (or creates) the file for appending. A last line without its newline is the trace of a write
    /// cut short by a kill; it is dropped so the next line does not join it.</summary>
    public MetricsJsonlWriter(string path)
    {
        FilePath = path;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        _stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        DropTornLastLine();
        _stream.Seek(0, SeekOrigin.End);
    }

    public string FilePath { get; }

    public void Append(StepMetrics m)
    {
        _line.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_line, new JsonWriterOptions { SkipValidation = false }))
        {
            json.WriteStartObject();
            json.WriteNumber("step", m.Step);
            WriteDouble(json, "epoch", m.Epoch);
            WriteDouble(json, "loss", m.Loss);
            WriteDouble(json, "lr", m.LearningRate);
            WriteDouble(json, "grad_norm", m.GradNorm);
            WriteDouble(json, "tokens_per_s", m.TokensPerSecond);
            if (m.EvalLoss is double eval) WriteDouble(json, "eval_loss", eval);
            if (m.Extra is not null)
                foreach (var (name, value) in m.Extra)
                {
                    if (Array.IndexOf(FixedFields, name) >= 0)
                        throw new ArgumentException($"extra metric '{name}' repeats a fixed field", nameof(m));
                    WriteDouble(json, name, value);
                }
            json.WriteEndObject();
        }
        _line.Write("\n"u8);
        _stream.Write(_line.WrittenSpan);
        _stream.Flush();
    }

    /// <summary>For resume from a checkpoint at <paramref name="step"/>: removes every line whose step is greater, so
    /// the steps about to be redone are not logged twice. Lines are kept in their order; when the dropped lines are
    /// all at the end (the normal case) the file is only shortened.</summary>
    public void TruncateAfterStep(long step)
    {
        _stream.Flush();
        _stream.Seek(0, SeekOrigin.Begin);
        var content = new byte[_stream.Length];
        _stream.ReadExactly(content);

        var kept = new List<Range>();
        bool prefix = true;
        long keptBytes = 0;
        foreach (var line in JsonlLine.Split(content))
        {
            bool keep = line.Terminated && !line.IsBlank(content)
                && MetricsJsonlReader.ReadStep(content.AsSpan(line.Start, line.Length), FilePath, line.Number) <= step;
            if (keep)
            {
                kept.Add(new Range(line.Start, line.End));
                if (prefix) keptBytes = line.End;
            }
            else prefix = false;
        }

        if (kept.Count == 0 || kept[^1].End.Value == keptBytes)
        {
            _stream.SetLength(keptBytes);
        }
        else
        {
            _stream.Seek(0, SeekOrigin.Begin);
            long length = 0;
            foreach (var r in kept)
            {
                _stream.Write(content.AsSpan(r));
                length += r.End.Value - r.Start.Value;
            }
            _stream.SetLength(length);
        }
        _stream.Flush();
        _stream.Seek(0, SeekOrigin.End);
    }

    public void Dispose() => _stream.Dispose();

    private void DropTornLastLine()
    {
        long length = _stream.Length;
        if (length == 0) return;
        Span<byte> chunk = stackalloc byte[4096];
        long end = length;
        bool lastByte = true;
        while (end > 0)
        {
            int n = (int)Math.Min(chunk.Length, end);
            _stream.Seek(end - n, SeekOrigin.Begin);
            _stream.ReadExactly(chunk[..n]);
            if (lastByte && chunk[n - 1] == (byte)'\n') return;
            lastByte = false;
            int nl = chunk[..n].LastIndexOf((byte)'\n');
            if (nl >= 0) { _stream.SetLength(end - n + nl + 1); return; }
            end -= n;
        }
        _stream.SetLength(0);
    }

    private static void WriteDouble(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteString(name, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
}
