using System.Globalization;
using System.Text;

namespace Engine.Quant;

/// <summary>Formats a double exactly as Python's <c>repr(float)</c> / <c>json.dumps</c> do, so the quant-state JSON
/// we write is byte-identical to bitsandbytes' (which serializes <c>offset.item()</c>, the fp32 offset widened to a
/// double).</summary>
internal static class Nf4PythonFloat
{
    public static string Repr(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "Infinity";
        if (double.IsNegativeInfinity(value)) return "-Infinity";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        // .NET's "R" is the shortest round-tripping digit string, the same digits Python picks; only the layout differs.
        string shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int e = shortest.IndexOfAny(['E', 'e']);
        string mantissa = e < 0 ? shortest : shortest[..e];
        int exponent = e < 0 ? 0 : int.Parse(shortest[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        int dot = mantissa.IndexOf('.');
        string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        int decimalPoint = (dot < 0 ? mantissa.Length : dot) + exponent; // value = 0.digits × 10^decimalPoint
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
        digits = digits[lead..].TrimEnd('0');
        decimalPoint -= lead;

        var sb = new StringBuilder();
        if (value < 0) sb.Append('-');
        if (decimalPoint > -4 && decimalPoint <= 16)
        {
            if (decimalPoint <= 0) sb.Append("0.").Append('0', -decimalPoint).Append(digits);
            else if (decimalPoint >= digits.Length) sb.Append(digits).Append('0', decimalPoint - digits.Length).Append(".0");
            else sb.Append(digits, 0, decimalPoint).Append('.').Append(digits, decimalPoint, digits.Length - decimalPoint);
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int exp10 = decimalPoint - 1;
            sb.Append(exp10 < 0 ? "e-" : "e+").Append(Math.Abs(exp10).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
