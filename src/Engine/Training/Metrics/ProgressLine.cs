using System.Globalization;
using System.Text;

namespace Engine.Training.Metrics;

/// <summary>What one progress line shows. <see cref="TotalSteps"/> ≤ 0 means the total is unknown; a null
/// <see cref="Eta"/> shows as "--".</summary>
internal readonly record struct ProgressSnapshot(long Step, long TotalSteps, double Loss, double LearningRate, double TokensPerSecond,
    TimeSpan? Eta, double? EvalLoss = null);

/// <summary>Formats the console progress line, e.g.
/// <c>step 12/200 [=>                  ] 6% loss 2.3141 lr 1.9e-4 12,340 tok/s ETA 3m12s</c>. Pure functions, kept
/// apart from <see cref="ProgressBar"/> so the text can be tested without a console.</summary>
internal static class ProgressLine
{
    public const int DefaultBarWidth = 20;
    public const int MinBarWidth = 5;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Format(in ProgressSnapshot s, int barWidth = DefaultBarWidth)
    {
        var sb = new StringBuilder(96);
        sb.Append("step ").Append(s.Step.ToString(Invariant));
        if (s.TotalSteps > 0)
        {
            sb.Append('/').Append(s.TotalSteps.ToString(Invariant));
            sb.Append(" [").Append(Bar(s.Step, s.TotalSteps, barWidth)).Append("] ");
            sb.Append(Percent(s.Step, s.TotalSteps).ToString(Invariant)).Append('%');
        }
        sb.Append(" loss ").Append(Loss(s.Loss));
        if (s.EvalLoss is double eval) sb.Append(" eval ").Append(Loss(eval));
        sb.Append(" lr ").Append(LearningRate(s.LearningRate));
        sb.Append(' ').Append(TokensPerSecond(s.TokensPerSecond)).Append(" tok/s");
        sb.Append(" ETA ").Append(Eta(s.Eta));
        return sb.ToString();
    }

    /// <summary>The line for a terminal <paramref name="terminalWidth"/> columns wide: the bar shrinks first, then the
    /// end is cut. One column is left free because writing the last column makes some terminals wrap, which breaks
    /// the '\r' redraw. A null or non-positive width (unknown) gives the default layout.</summary>
    public static string FitToWidth(in ProgressSnapshot s, int? terminalWidth)
    {
        string line = Format(s);
        if (terminalWidth is not int width || width <= 0) return line;
        int max = Math.Max(width - 1, 1);
        if (line.Length <= max) return line;
        if (s.TotalSteps > 0)
        {
            int bar = Math.Max(MinBarWidth, DefaultBarWidth - (line.Length - max));
            line = Format(s, bar);
        }
        return line.Length <= max ? line : line[..max];
    }

    /// <summary>Completed cells are '=', the current one '>', the rest spaces; a finished run is all '='.</summary>
    public static string Bar(long step, long total, int width)
    {
        if (width <= 0) return "";
        int filled = (int)Math.Clamp(Math.Floor(Fraction(step, total) * width), 0, width);
        if (filled == width) return new string('=', width);
        return new string('=', filled) + ">" + new string(' ', width - filled - 1);
    }

    /// <summary>Whole percent, rounded down so 100% means done.</summary>
    public static int Percent(long step, long total) => (int)Math.Floor(Fraction(step, total) * 100);

    public static string Loss(double loss) => NonFinite(loss) ?? loss.ToString("F4", Invariant);

    /// <summary>Two significant digits in scientific notation without exponent padding: 1.9e-4, 2.0e-5, 3.0e0.</summary>
    public static string LearningRate(double lr)
    {
        if (NonFinite(lr) is string special) return special;
        if (lr == 0) return "0";
        int exponent = (int)Math.Floor(Math.Log10(Math.Abs(lr)));
        double mantissa = Math.Round(lr / Math.Pow(10, exponent), 1);
        if (Math.Abs(mantissa) >= 10) { mantissa /= 10; exponent++; }
        return mantissa.ToString("F1", Invariant) + "e" + exponent.ToString(Invariant);
    }

    public static string TokensPerSecond(double tokensPerSecond) =>
        NonFinite(tokensPerSecond) ?? Math.Round(tokensPerSecond).ToString("N0", Invariant);

    /// <summary>Coarsest two units: 45s, 3m12s, 1h05m, 2d03h; "--" when unknown.</summary>
    public static string Eta(TimeSpan? eta)
    {
        if (eta is not TimeSpan t || t < TimeSpan.Zero) return "--";
        long total = (long)Math.Round(t.TotalSeconds);
        long days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60, seconds = total % 60;
        if (days > 0) return $"{days}d{hours:00}h";
        if (hours > 0) return $"{hours}h{minutes:00}m";
        if (minutes > 0) return $"{minutes}m{seconds:00}s";
        return $"{seconds}s";
    }

    private static double Fraction(long step, long total) => total <= 0 ? 0 : Math.Clamp((double)step / total, 0, 1);

    private static string? NonFinite(double v) =>
        double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf" : null;
}
