using System.Globalization;

namespace Engine.Training.Metrics;

/// <summary>"Nice" axis ranges: tick spacing 1, 2 or 5 times a power of ten, bounds on multiples of the spacing.</summary>
internal readonly record struct AxisTicks(double Min, double Max, double Step)
{
    /// <summary>Covers [lo, hi] with about <paramref name="targetCount"/> intervals. An empty range is widened so the
    /// axis still has extent.</summary>
    public static AxisTicks Cover(double lo, double hi, int targetCount = 6)
    {
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) throw new ArgumentException($"axis range [{lo}, {hi}] is not finite");
        if (hi < lo) (lo, hi) = (hi, lo);
        if (hi == lo)
        {
            double pad = lo == 0 ? 1 : Math.Abs(lo) * 0.1;
            lo -= pad;
            hi += pad;
        }
        double step = NiceStep((hi - lo) / Math.Max(targetCount, 1));
        double min = Math.Floor(lo / step + 1e-9) * step;
        double max = Math.Ceiling(hi / step - 1e-9) * step;
        return new AxisTicks(min, max, step);
    }

    private static double NiceStep(double raw)
    {
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double residual = raw / magnitude;
        // The slack keeps a ratio that is 1, 2 or 5 up to rounding (0.06 / 6 = 0.010000000000000009) from moving up a size.
        const double slack = 1 + 1e-9;
        double nice = residual <= slack ? 1 : residual <= 2 * slack ? 2 : residual <= 5 * slack ? 5 : 10;
        return nice * magnitude;
    }

    /// <summary>Tick positions from Min to Max inclusive, computed by index so rounding does not accumulate.</summary>
    public IEnumerable<double> Values()
    {
        int count = (int)Math.Round((Max - Min) / Step);
        for (int i = 0; i <= count; i++)
        {
            double v = Min + i * Step;
            yield return Math.Abs(v) < Step * 1e-9 ? 0 : v;
        }
    }

    /// <summary>A tick label with as many decimals as the spacing needs; scientific ("1.5e-4", "2e5", no trailing
    /// zeros) when plain notation would be long.</summary>
    public string Label(double value)
    {
        if (value == 0) return "0";
        int stepExponent = (int)Math.Floor(Math.Log10(Step) + 1e-9);
        double largest = Math.Max(Math.Abs(Min), Math.Abs(Max));
        if (largest >= 1e5 || stepExponent < -3)
        {
            int exponent = (int)Math.Floor(Math.Log10(Math.Abs(value)) + 1e-9);
            double mantissa = Math.Round(value / Math.Pow(10, exponent), Math.Clamp(exponent - stepExponent, 0, 3));
            string m = mantissa.ToString("0.###", CultureInfo.InvariantCulture);
            return $"{m}e{exponent.ToString(CultureInfo.InvariantCulture)}";
        }
        return value.ToString("F" + Math.Max(0, -stepExponent), CultureInfo.InvariantCulture);
    }
}
