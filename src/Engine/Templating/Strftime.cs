using System.Globalization;
using System.Text;

namespace Engine.Templating;

/// <summary>Python's <c>strftime</c> in the C locale, for HF's <c>strftime_now</c> global.</summary>
internal static class Strftime
{
    public static string Format(DateTime t, string format)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char c = format[++i];
            sb.Append(c switch
            {
                'a' => t.ToString("ddd", inv),
                'A' => t.ToString("dddd", inv),
                'b' or 'h' => t.ToString("MMM", inv),
                'B' => t.ToString("MMMM", inv),
                'd' => t.ToString("dd", inv),
                'e' => t.Day.ToString(inv).PadLeft(2),
                'H' => t.ToString("HH", inv),
                'I' => t.ToString("hh", inv),
                'j' => t.DayOfYear.ToString("000", inv),
                'm' => t.ToString("MM", inv),
                'M' => t.ToString("mm", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'S' => t.ToString("ss", inv),
                'y' => t.ToString("yy", inv),
                'Y' => t.Year.ToString(inv),
                'w' => ((int)t.DayOfWeek).ToString(inv),
                'F' => t.ToString("yyyy-MM-dd", inv),
                'T' => t.ToString("HH:mm:ss", inv),
                '%' => "%",
                _ => throw new TemplateFault($"strftime_now: unsupported format directive %{c}"),
            });
        }
        return sb.ToString();
    }
}
