namespace Engine.Templating;

/// <summary>Binary arithmetic, concatenation and comparisons with Python's rules (bool counts as int; / is true
/// division; // and % floor; + joins strings keeping marks, and lists; * repeats a string or list).</summary>
internal static class Operators
{
    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~") return MarkedString.Concat(Py.ToMarked(a), Py.ToMarked(b));
        if (a is Undefined ua) throw Py.UndefinedFault(ua);
        if (b is Undefined ub) throw Py.UndefinedFault(ub);
        if (Py.IsNumber(a) && Py.IsNumber(b)) return Arithmetic(op, a!, b!);
        switch (op)
        {
            case "+" when a is MarkedString sa && b is MarkedString sb: return MarkedString.Concat(sa, sb);
            case "+" when a is List<object?> la && b is List<object?> lb && (a is TupleValue) == (b is TupleValue):
            {
                var r = a is TupleValue ? new TupleValue(la) : new List<object?>(la);
                r.AddRange(lb);
                return r;
            }
            case "*" when a is MarkedString s && IsInt(b): return Repeat(s, AsLong(b!));
            case "*" when b is MarkedString s2 && IsInt(a): return Repeat(s2, AsLong(a!));
            case "*" when a is List<object?> l && IsInt(b):
            {
                var r = a is TupleValue ? new TupleValue() : new List<object?>();
                for (long i = 0; i < AsLong(b!); i++) r.AddRange(l);
                return r;
            }
            case "%" when a is MarkedString:
                throw new TemplateFault("printf-style string formatting with % is not supported");
        }
        throw new TemplateFault($"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
    }

    private static bool IsInt(object? v) => v is long or bool;
    private static long AsLong(object v) => v is bool b ? (b ? 1 : 0) : (long)v;

    private static MarkedString Repeat(MarkedString s, long n)
    {
        var b = new MarkedBuilder();
        for (long i = 0; i < n; i++) b.Append(s);
        return b.ToMarked();
    }

    private static object Arithmetic(string op, object a, object b)
    {
        if (a is not double && b is not double)
        {
            long x = AsLong(a), y = AsLong(b);
            switch (op)
            {
                case "+": return checked(x + y);
                case "-": return checked(x - y);
                case "*": return checked(x * y);
                case "/": if (y == 0) throw ZeroDivision(); return (double)x / y;
                case "//": if (y == 0) throw ZeroDivision(); return FloorDiv(x, y);
                case "%": if (y == 0) throw ZeroDivision(); return x - FloorDiv(x, y) * y;
                case "**":
                    if (y < 0) return Math.Pow(x, y);
                    long r = 1;
                    for (long i = 0; i < y; i++) r = checked(r * x);
                    return r;
            }
        }
        double p = Py.ToDouble(a), q = Py.ToDouble(b);
        switch (op)
        {
            case "+": return p + q;
            case "-": return p - q;
            case "*": return p * q;
            case "/": if (q == 0) throw ZeroDivision(); return p / q;
            case "//": if (q == 0) throw ZeroDivision(); return Math.Floor(p / q);
            case "%":
            {
                if (q == 0) throw ZeroDivision();
                double m = p % q;
                return m != 0 && (m < 0) != (q < 0) ? m + q : m;
            }
            case "**": return Math.Pow(p, q);
        }
        throw new TemplateFault($"unknown operator {op}");
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static TemplateFault ZeroDivision() => new("division by zero");

    public static bool Compare(string op, object? a, object? b) => op switch
    {
        "==" => Py.Equals(a, b),
        "!=" => !Py.Equals(a, b),
        "<" => Py.Compare(a, b, op) < 0,
        "<=" => Py.Compare(a, b, op) <= 0,
        ">" => Py.Compare(a, b, op) > 0,
        ">=" => Py.Compare(a, b, op) >= 0,
        "in" => Py.Contains(b, a),
        "not in" => !Py.Contains(b, a),
        _ => throw new TemplateFault($"unknown comparison {op}"),
    };
}
