using System.Globalization;

namespace Engine.Api;

/// <summary>Range checks for the options records, each naming the flag (the CLI's spelling, which the records'
/// documentation follows) and the allowed range, so the CLI and the library give the same message.</summary>
internal static class OptionChecks
{
    public static int Positive(int v, string flag) => v > 0 ? v : throw Bad(flag, "must be positive", Show(v));

    public static void AtLeast(long v, long min, string flag, string? note = null)
    {
        if (v < min) throw Bad(flag, $"must be >= {min}{Note(note)}", Show(v));
    }

    /// <summary>A finite number above (or, with <paramref name="orZero"/>, at least) zero.</summary>
    public static void Positive(double v, string shown, string flag, bool orZero = false, string? note = null)
    {
        if (!double.IsFinite(v) || v < 0 || v == 0 && !orZero)
            throw Bad(flag, $"must be a finite number {(orZero ? ">=" : ">")} 0{Note(note)}", shown);
    }

    /// <summary>A finite number in [lo, hi) (or (lo, hi] with <paramref name="upperClosed"/>).</summary>
    public static void Interval(double v, string shown, double lo, double hi, string flag, bool upperClosed = false, string? note = null)
    {
        bool ok = upperClosed ? v > lo && v <= hi : v >= lo && v < hi;
        if (!ok)
            throw Bad(flag, $"must be in {(upperClosed ? "(" : "[")}{Show(lo)}, {Show(hi)}{(upperClosed ? "]" : ")")}{Note(note)}", shown);
    }

    public static string Show(float v) => v.ToString(CultureInfo.InvariantCulture);
    public static string Show(double v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Show(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Note(string? note) => note is null ? "" : $" ({note})";
    private static EngineException Bad(string flag, string rule, string got) => new($"{flag} {rule}, got {got}");
}
