using Engine.Formats;

namespace Engine.Training.Metrics;

/// <summary>Writes scalars to a TensorBoard event file <c>events.out.tfevents.{unix_seconds}.{hostname}</c> in a
/// folder. Each scalar is one Event record, as TensorBoard's own writers do. Data reaches the OS when a step's scalars
/// are complete (on <see cref="Flush"/>, <see cref="Log"/>, or when a scalar for a different step arrives), so a
/// process killed by Ctrl-C leaves a file that reads back up to the last finished step.</summary>
internal sealed class TensorBoardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly TimeProvider _time;
    private long? _unflushedStep;

    /// <param name="folder">Created if missing (e.g. out/runs).</param>
    /// <param name="time">Clock for wall_time and the file name; the system clock when null.</param>
    public TensorBoardWriter(string folder, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        Directory.CreateDirectory(folder);
        var now = _time.GetUtcNow();
        string baseName = $"events.out.tfevents.{now.ToUnixTimeSeconds()}.{SafeHostName()}";
        // Two writers started in the same second on one host would collide; TensorBoard reads any name containing
        // "tfevents", so a numeric suffix keeps both runs.
        for (int attempt = 0; ; attempt++)
        {
            string path = Path.Combine(folder, attempt == 0 ? baseName : $"{baseName}.{attempt}");
            try
            {
                _stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                FilePath = path;
                break;
            }
            catch (IOException) when (File.Exists(path) && attempt < 1000) { }
        }
        WriteEvent(new TensorBoardEvent(WallTime(), 0, TensorBoardEvent.CurrentFileVersion, []));
        _stream.Flush();
    }

    public string FilePath { get; }

    public void AddScalar(string tag, float value, long step)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        if (_unflushedStep is long pending && pending != step) Flush();
        WriteEvent(new TensorBoardEvent(WallTime(), step, null, [(tag, value)]));
        _unflushedStep = step;
    }

    /// <summary>Writes loss, lr, grad_norm, tokens_per_s, epoch, eval_loss (when present) and the extra values under
    /// those tags, then flushes.</summary>
    public void Log(StepMetrics m)
    {
        AddScalar("loss", (float)m.Loss, m.Step);
        AddScalar("lr", (float)m.LearningRate, m.Step);
        AddScalar("grad_norm", (float)m.GradNorm, m.Step);
        AddScalar("tokens_per_s", (float)m.TokensPerSecond, m.Step);
        AddScalar("epoch", (float)m.Epoch, m.Step);
        if (m.EvalLoss is double eval) AddScalar("eval_loss", (float)eval, m.Step);
        if (m.Extra is not null)
            foreach (var (name, value) in m.Extra) AddScalar(name, (float)value, m.Step);
        Flush();
    }

    /// <summary>Hands buffered records to the OS (not an fsync: surviving a process kill is the goal, not a power
    /// cut).</summary>
    public void Flush()
    {
        _stream.Flush();
        _unflushedStep = null;
    }

    public void Dispose() => _stream.Dispose();

    private void WriteEvent(TensorBoardEvent e) => TfRecord.Write(_stream, e.Encode());

    private double WallTime() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).TotalSeconds;

    private static string SafeHostName()
    {
        string host;
        try { host = Environment.MachineName; }
        catch (InvalidOperationException) { host = "localhost"; }
        var invalid = Path.GetInvalidFileNameChars();
        var chars = host.Select(c => invalid.Contains(c) ? '_' : c).ToArray();
        return chars.Length == 0 ? "localhost" : new string(chars);
    }
}
