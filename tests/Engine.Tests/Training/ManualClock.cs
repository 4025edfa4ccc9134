namespace Engine.Tests.Training;

/// <summary>A clock the test moves by hand: wall time and the monotonic timestamp advance together.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    private long _ticks;

    public void Advance(TimeSpan by)
    {
        Now += by;
        _ticks += by.Ticks;
    }

    public override DateTimeOffset GetUtcNow() => Now;
    public override long GetTimestamp() => _ticks;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}
