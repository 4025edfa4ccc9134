using System.Globalization;
using System.Text;

namespace Engine.Templating;

/// <summary>Python's semantics for template values: truth, str(), repr(), equality, ordering, iteration, length and
/// arithmetic, as jinja2 evaluates them (ints are <see cref="long"/>, floats <see cref="double"/>, strings
/// <see cref="MarkedString"/>, None null).</summary>
internal static class Py
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        bool => "bool",
        long => "int",
        double => "float",
        MarkedString => "str",
        TupleValue => "tuple",
        List<object?> => "list",
        DictValue => "dict",
        Undefined => "Undefined",
        NamespaceValue => "Namespace",
        LoopInfo => "LoopContext",
        Callable => "function",
        _ => v.GetType().Name,
    };

    public static TemplateFault UndefinedFault(Undefined u) => new(u.Hint);

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        MarkedString s => s.Length > 0,
        List<object?> l => l.Count > 0,
        DictValue d => d.Count > 0,
        _ => true,
    };

    public static MarkedString ToMarked(object? v) => v as MarkedString ?? MarkedString.Plain(Str(v));

    public static string Str(object? v) => v switch
    {
        Undefined => "",
        MarkedString s => s.Text,
        NamespaceValue ns => "<Namespace " + Repr(ToDict(ns.Attributes)) + ">",
        _ => Repr(v),
    };

    private static DictValue ToDict(Dictionary<string, object?> d)
    {
        var r = new DictValue();
        foreach (var (k, v) in d) r.Set(k, v);
        return r;
    }

    public static string Repr(object? v)
    {
        switch (v)
        {
            case null: return "None";
            case bool b: return b ? "True" : "False";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return FloatRepr(d);
            case MarkedString s: return StringRepr(s.Text);
            case Undefined: return "Undefined";
            case TupleValue t: return "(" + string.Join(", ", t.Select(Repr)) + (t.Count == 1 ? ",)" : ")");
            case List<object?> l: return "[" + string.Join(", ", l.Select(Repr)) + "]";
            case DictValue d: return "{" + string.Join(", ", d.Select(kv => Repr(DictValue.FromKey(kv.Key)) + ": " + Repr(kv.Value))) + "}";
            case Callable c: return $"<function {c.Name}>";
            default: return v.ToString() ?? "";
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    public static string StringRepr(string s)
    {
        char q = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(q);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == q) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(q).ToString();
    }

    /// <summary>Python's repr of a float: the shortest round-trip digits, "1.0" for integral values, exponent form
    /// ("1e-05", "1e+16") below 1e-4 or from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // Shortest round-trip digits: "R" then normalize to digits + exponent.
        var shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool neg = shortest.StartsWith('-');
        if (neg) shortest = shortest[1..];
        int exp = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        if (e >= 0) { exp = int.Parse(shortest[(e + 1)..], CultureInfo.InvariantCulture); shortest = shortest[..e]; }
        int dot = shortest.IndexOf('.');
        string intPart = dot < 0 ? shortest : shortest[..dot], frac = dot < 0 ? "" : shortest[(dot + 1)..];
        var digits = (intPart + frac).TrimStart('0');
        int leadingZeros = (intPart + frac).Length - digits.Length;
        int pointPos = intPart.Length + exp - leadingZeros; // decimal point position relative to digits start
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sciExp = pointPos - 1;
        string body;
        if (sciExp < -4 || sciExp >= 16)
        {
            var mant = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            body = mant + "e" + (sciExp < 0 ? "-" : "+") + Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (pointPos <= 0) body = "0." + new string('0', -pointPos) + digits;
        else if (pointPos >= digits.Length) body = digits + new string('0', pointPos - digits.Length) + ".0";
        else body = digits[..pointPos] + "." + digits[pointPos..];
        return (neg ? "-" : "") + body;
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static bool IsString(object? v) => v is MarkedString;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateFault($"expected a number, got {TypeName(v)}"),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a) == ToDouble(b);
            return AsLong(a) == AsLong(b);
        }
        if (a is MarkedString sa && b is MarkedString sb) return sa.Text == sb.Text;
        if (a is List<object?> la && b is List<object?> lb)
        {
            if ((a is TupleValue) != (b is TupleValue) || la.Count != lb.Count) return false;
            for (int i = 0; i < la.Count; i++) if (!Equals(la[i], lb[i])) return false;
            return true;
        }
        if (a is DictValue da && b is DictValue db)
        {
            if (da.Count != db.Count) return false;
            foreach (var (k, v) in da) if (!db.TryGetValue(k, out var w) || !Equals(v, w)) return false;
            return true;
        }
        return ReferenceEquals(a, b);
    }

    private static long AsLong(object v) => v is bool b ? (b ? 1 : 0) : (long)v;

    /// <summary>Python's &lt; ordering: numbers, strings (by code point), lists and tuples element by element.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double) return ToDouble(a).CompareTo(ToDouble(b));
            return AsLong(a!).CompareTo(AsLong(b!));
        }
        if (a is MarkedString sa && b is MarkedString sb) return CompareCodePoints(sa.Text, sb.Text);
        if (a is List<object?> la && b is List<object?> lb && (a is TupleValue) == (b is TupleValue))
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!Equals(la[i], lb[i])) return Compare(la[i], lb[i], op);
            return la.Count.CompareTo(lb.Count);
        }
        if (a is Undefined u) throw UndefinedFault(u);
        if (b is Undefined u2) throw UndefinedFault(u2);
        throw new TemplateFault($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static int CompareCodePoints(string a, string b)
    {
        int i = 0;
        for (; i < a.Length && i < b.Length; i++)
        {
            if (a[i] == b[i]) continue;
            int ca = char.IsSurrogate(a[i]) ? char.ConvertToUtf32(a, i) : a[i];
            int cb = char.IsSurrogate(b[i]) ? char.ConvertToUtf32(b, i) : b[i];
            return ca.CompareTo(cb);
        }
        return a.Length.CompareTo(b.Length);
    }

    /// <summary>The items a for loop visits: list items, dict keys, string characters; undefined is empty.</summary>
    public static List<object?> Iterate(object? v) => v switch
    {
        Undefined => [],
        List<object?> l => l,
        DictValue d => d.Keys.Select(DictValue.FromKey).ToList(),
        MarkedString s => Chars(s),
        _ => throw new TemplateFault($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>A string's characters (code points) as one-character strings that keep their marks.</summary>
    public static List<object?> Chars(MarkedString s)
    {
        var r = new List<object?>(s.Length);
        for (int i = 0; i < s.Length;)
        {
            int n = char.IsHighSurrogate(s.Text[i]) && i + 1 < s.Length ? 2 : 1;
            r.Add(s.Substring(i, n));
            i += n;
        }
        return r;
    }

    public static int CodePointLength(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++) if (!char.IsLowSurrogate(s[i]) || i == 0 || !char.IsHighSurrogate(s[i - 1])) n++;
        return n;
    }

    /// <summary>The UTF-16 index of code point <paramref name="cp"/> (cp may equal the code point count).</summary>
    public static int Utf16Index(string s, int cp)
    {
        int i = 0;
        for (int k = 0; k < cp && i < s.Length; k++) i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1;
        return i;
    }

    public static long Length(object? v) => v switch
    {
        Undefined => 0,
        MarkedString s => CodePointLength(s.Text),
        List<object?> l => l.Count,
        DictValue d => d.Count,
        _ => throw new TemplateFault($"object of type '{TypeName(v)}' has no len()"),
    };

    public static bool Contains(object? container, object? item) => container switch
    {
        MarkedString s => item is MarkedString sub ? s.Text.Contains(sub.Text, StringComparison.Ordinal)
            : throw new TemplateFault($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        List<object?> l => l.Any(x => Equals(x, item)),
        DictValue d => d.ContainsKey(DictValue.Key(item)),
        Undefined => false,
        _ => throw new TemplateFault($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>Python's slice indices for a sequence of <paramref name="length"/> items (PySlice_AdjustIndices).</summary>
    public static List<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        long st = step ?? 1;
        if (st == 0) throw new TemplateFault("slice step cannot be zero");
        long lo = start is null ? (st < 0 ? length - 1 : 0) : Adjust(start.Value);
        long hi = stop is null ? (st < 0 ? -1 : length) : Adjust(stop.Value);
        var r = new List<int>();
        if (st > 0) for (long i = lo; i < hi; i += st) r.Add((int)i);
        else for (long i = lo; i > hi; i += st) r.Add((int)i);
        return r;

        long Adjust(long v)
        {
            if (v < 0) { v += length; if (v < 0) v = st < 0 ? -1 : 0; }
            else if (v >= length) v = st < 0 ? length - 1 : length;
            return v;
        }
    }
}
