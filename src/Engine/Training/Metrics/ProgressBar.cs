namespace Engine.Training.Metrics;

/// <summary>Console progress for training. On a terminal one line is redrawn in place with '\r'; when output is
/// redirected (a log file, CI) a plain line is written every <c>plainEvery</c> steps and at the last step.</summary>
internal sealed class ProgressBar : IDisposable
{
    private readonly TextWriter _output;
    private readonly bool _redraw;
    private readonly Func<int?> _terminalWidth;
    private readonly long _totalSteps;
    private readonly long _startStep;
    private readonly int _plainEvery;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private string? _lastLine;
    private bool _lineOpen;

    /// <summary>Progress on the process console.</summary>
    /// <param name="startStep">The step training starts from (non-zero on resume), so the ETA counts only steps this
    /// process has run.</param>
    public ProgressBar(long totalSteps, long startStep = 0, int plainEvery = 10)
        : this(Console.Out, !Console.IsOutputRedirected, ConsoleWidth, totalSteps, startStep, plainEvery, null) { }

    public ProgressBar(TextWriter output, bool isTerminal, Func<int?> terminalWidth, long totalSteps, long startStep, int plainEvery,
        TimeProvider? time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(plainEvery, 1);
        _output = output;
        _redraw = isTerminal;
        _terminalWidth = terminalWidth;
        _totalSteps = totalSteps;
        _startStep = startStep;
        _plainEvery = plainEvery;
        _time = time ?? TimeProvider.System;
        _startTimestamp = _time.GetTimestamp();
    }

    /// <summary>The line most recently formatted (shown or not).</summary>
    public string? LastLine => _lastLine;

    public void Update(StepMetrics m)
    {
        var snapshot = new ProgressSnapshot(m.Step, _totalSteps, m.Loss, m.LearningRate, m.TokensPerSecond, Eta(m.Step), m.EvalLoss);
        if (_redraw)
        {
            string line = ProgressLine.FitToWidth(snapshot, SafeWidth());
            // Pad over the tail of a longer previous line; '\r' alone does not erase it.
            int pad = _lineOpen && _lastLine is not null ? Math.Max(0, _lastLine.Length - line.Length) : 0;
            _output.Write('\r');
            _output.Write(line);
            if (pad > 0) _output.Write(new string(' ', pad));
            _output.Flush();
            _lineOpen = true;
            _lastLine = line;
        }
        else
        {
            string line = ProgressLine.Format(snapshot);
            bool first = _lastLine is null;
            _lastLine = line;
            if (first || m.Step % _plainEvery == 0 || (_totalSteps > 0 && m.Step >= _totalSteps))
            {
                _output.WriteLine(line);
                _output.Flush();
            }
        }
    }

    /// <summary>Prints a message on its own line (eval results, checkpoint saved) without mangling the bar; the bar
    /// is redrawn at the next update.</summary>
    public void WriteLine(string message)
    {
        EndLine();
        _output.WriteLine(message);
        _output.Flush();
    }

    /// <summary>Ends the redrawn line so later output starts on a fresh one.</summary>
    public void Dispose()
    {
        EndLine();
        _output.Flush();
    }

    private void EndLine()
    {
        if (!_lineOpen) return;
        _output.WriteLine();
        _lineOpen = false;
    }

    private TimeSpan? Eta(long step)
    {
        long done = step - _startStep;
        if (_totalSteps <= 0 || done <= 0) return null;
        var elapsed = _time.GetElapsedTime(_startTimestamp);
        return TimeSpan.FromTicks((long)(elapsed.Ticks / (double)done * Math.Max(0, _totalSteps - step)));
    }

    private int? SafeWidth()
    {
        try { return _terminalWidth(); }
        catch (Exception e) when (e is IOException or InvalidOperationException or PlatformNotSupportedException) { return null; }
    }

    /// <summary>Console.WindowWidth throws or reports 0 when there is no terminal; both mean "unknown".</summary>
    private static int? ConsoleWidth()
    {
        try
        {
            int w = Console.WindowWidth;
            return w > 0 ? w : null;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or PlatformNotSupportedException) { return null; }
    }
}
