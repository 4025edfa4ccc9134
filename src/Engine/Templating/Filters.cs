using System.Globalization;
using System.Text.RegularExpressions;

namespace Engine.Templating;

/// <summary>jinja2's built-in filters that chat templates use, plus Hugging Face's <c>tojson</c> (ensure_ascii off,
/// indent supported). Marks: trim, first, last, join, string, default, replace (untouched parts), indent, safe,
/// reverse (of a list), list, items keep them; upper/lower/capitalize/title keep them when the length is unchanged;
/// tojson, int, float and number formatting write new text without marks.</summary>
internal static partial class Filters
{
    public static readonly HashSet<string> Known =
    [
        "trim", "upper", "lower", "capitalize", "title", "length", "count", "first", "last", "join", "default", "d",
        "replace", "tojson", "string", "int", "float", "list", "items", "selectattr", "rejectattr", "map", "unique",
        "reverse", "safe", "indent", "select", "reject", "dictsort", "sort", "abs", "attr", "sum", "min", "max",
        "wordcount", "center",
    ];

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    public static object? Apply(Interpreter interp, string name, object? v, CallArgs a, int pos)
    {
        switch (name)
        {
            case "trim": return StringMethods.Strip(Py.ToMarked(v), Args.Get(a, 0, "chars") is MarkedString c ? c.Text : null, true, true);
            case "upper": { var s = Py.ToMarked(v); return s.WithText(s.Text.ToUpperInvariant()); }
            case "lower": { var s = Py.ToMarked(v); return s.WithText(s.Text.ToLowerInvariant()); }
            case "capitalize": { var s = Py.ToMarked(v); return s.WithText(StringMethods.Capitalize(s.Text)); }
            case "title":
            {
                var s = Py.ToMarked(v);
                var parts = WordBeginning().Split(s.Text).Where(p => p.Length > 0)
                    .Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant());
                return s.WithText(string.Concat(parts));
            }
            case "length" or "count": return Py.Length(v);
            case "first":
            {
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
            }
            case "last":
            {
                if (v is not (List<object?> or MarkedString)) throw new TemplateFault($"'{Py.TypeName(v)}' object is not reversible");
                var items = Py.Iterate(v);
                return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
            }
            case "join":
            {
                var sep = Args.Str(a, 0, "d", required: false, fallback: "");
                var items = Py.Iterate(v);
                if (Args.Get(a, 1, "attribute") is { } attr) items = items.Select(x => Attribute(x, attr)).ToList();
                return StringMethods.Join(sep, items);
            }
            case "default" or "d":
            {
                var fallback = Args.Get(a, 0, "default_value", fallback: MarkedString.Empty);
                bool boolean = Args.Bool(a, 1, "boolean", false);
                return v is Undefined || (boolean && !Py.Truthy(v)) ? fallback : v;
            }
            case "replace":
                return StringMethods.Replace(Py.ToMarked(v), Py.ToMarked(Args.Get(a, 0, "old", required: true)),
                    Py.ToMarked(Args.Get(a, 1, "new", required: true)), Args.Has(a, 2, "count") ? Args.Int(a, 2, "count", -1) : -1);
            case "tojson":
            {
                // HF's signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
                var indent = Args.Get(a, 1, "indent");
                var separators = Args.Get(a, 2, "separators");
                return MarkedString.Plain(Json.Dumps(v, indent, separators, Args.Bool(a, 3, "sort_keys", false), Args.Bool(a, 0, "ensure_ascii", false)));
            }
            case "string": return Py.ToMarked(v);
            case "safe": return Py.ToMarked(v);
            case "int": return ToInt(v, Args.Get(a, 0, "default", fallback: 0L), Args.Int(a, 1, "base", 10));
            case "float": return ToFloat(v, Args.Get(a, 0, "default", fallback: 0.0));
            case "list": return v is MarkedString ms ? Py.Chars(ms) : new List<object?>(Py.Iterate(v));
            case "items":
                if (v is Undefined) return new List<object?>();
                if (v is not DictValue d) throw new TemplateFault($"Can only get item pairs from a mapping, not {Py.TypeName(v)}");
                return d.Select(kv => (object?)new TupleValue([DictValue.FromKey(kv.Key), kv.Value])).ToList();
            case "selectattr" or "rejectattr":
            {
                var attr = Args.Get(a, 0, "attr", required: true)!;
                bool want = name == "selectattr";
                return Py.Iterate(v).Where(x => Select(interp, Attribute(x, attr), a, 1) == want).ToList();
            }
            case "select" or "reject":
            {
                bool want = name == "select";
                return Py.Iterate(v).Where(x => Select(interp, x, a, 0) == want).ToList();
            }
            case "map":
            {
                var items = Py.Iterate(v);
                if (a.Named.FirstOrDefault(n => n.Name == "attribute") is { Name: not null } at)
                {
                    var fallback = a.Named.FirstOrDefault(n => n.Name == "default");
                    return items.Select(x =>
                    {
                        var r = Attribute(x, at.Value!);
                        return r is Undefined && fallback.Name is not null ? fallback.Value : r;
                    }).ToList();
                }
                if (a.Positional.Count == 0 || a.Positional[0] is not MarkedString fname)
                    throw new TemplateFault("map requires a filter name or attribute=");
                if (!Known.Contains(fname.Text)) throw new TemplateFault($"unsupported filter '{fname.Text}'");
                var rest = new CallArgs(a.Positional.Skip(1).ToList(), a.Named, pos);
                return items.Select(x => Apply(interp, fname.Text, x, rest, pos)).ToList();
            }
            case "unique":
            {
                bool caseSensitive = Args.Bool(a, 0, "case_sensitive", false);
                var attr = Args.Get(a, 1, "attribute");
                var seen = new List<object?>();
                var result = new List<object?>();
                foreach (var x in Py.Iterate(v))
                {
                    var key = attr is null ? x : Attribute(x, attr);
                    if (!caseSensitive && key is MarkedString ks) key = MarkedString.Plain(ks.Text.ToLowerInvariant());
                    if (seen.Any(s => Py.Equals(s, key))) continue;
                    seen.Add(key);
                    result.Add(x);
                }
                return result;
            }
            case "reverse":
                if (v is MarkedString rs) return Members.Slice(rs, null, null, -1);
                { var l = new List<object?>(Py.Iterate(v)); l.Reverse(); return l; }
            case "indent": return Indent(Py.ToMarked(v), Args.Get(a, 0, "width", fallback: 4L), Args.Bool(a, 1, "first", false), Args.Bool(a, 2, "blank", false));
            case "dictsort":
            {
                if (v is not DictValue dict) throw new TemplateFault($"dictsort expects a mapping, not {Py.TypeName(v)}");
                bool cs = Args.Bool(a, 0, "case_sensitive", false);
                var by = Args.Str(a, 1, "by", required: false, fallback: "key").Text;
                bool reverse = Args.Bool(a, 2, "reverse", false);
                int pick = by switch { "key" => 0, "value" => 1, _ => throw new TemplateFault("You can only sort by either \"key\" or \"value\"") };
                var pairs = dict.Select(kv => new TupleValue([DictValue.FromKey(kv.Key), kv.Value])).ToList();
                return Sorted(pairs.Cast<object?>().ToList(), x => SortKey(((TupleValue)x!)[pick], cs), reverse);
            }
            case "sort":
            {
                bool reverse = Args.Bool(a, 0, "reverse", false), cs = Args.Bool(a, 1, "case_sensitive", false);
                var attr = Args.Get(a, 2, "attribute");
                return Sorted(new List<object?>(Py.Iterate(v)), x => SortKey(attr is null ? x : Attribute(x, attr), cs), reverse);
            }
            case "abs": return v switch { long l => (object)Math.Abs(l), double dv => Math.Abs(dv), bool b => b ? 1L : 0L, _ => throw new TemplateFault($"bad operand type for abs(): '{Py.TypeName(v)}'") };
            case "attr": return Members.GetAttr(v, Args.Str(a, 0, "name").Text);
            case "sum":
            {
                object? total = Args.Get(a, 1, "start", fallback: 0L);
                var attr = Args.Get(a, 0, "attribute");
                foreach (var x in Py.Iterate(v)) total = Operators.Binary("+", total, attr is null ? x : Attribute(x, attr));
                return total;
            }
            case "min" or "max":
            {
                var items = Py.Iterate(v);
                if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                var best = items[0];
                foreach (var x in items.Skip(1))
                    if (Py.Compare(x, best, "<") is var c2 && (name == "min" ? c2 < 0 : c2 > 0)) best = x;
                return best;
            }
            case "wordcount": return (long)Regex.Matches(Py.Str(v), @"\w+").Count;
            case "center":
            {
                var s = Py.Str(v);
                long width = Args.Int(a, 0, "width", 80);
                if (s.Length >= width) return MarkedString.Plain(s);
                int total = (int)width - s.Length, left = total / 2 + (total & (int)width & 1);
                return MarkedString.Plain(new string(' ', left) + s + new string(' ', total - left));
            }
            default: throw new TemplateFault($"unsupported filter '{name}'");
        }
    }

    private static object? Attribute(object? item, object attr)
    {
        // jinja2's make_attrgetter: "a.b" walks nested attributes; an integer part is an index.
        if (attr is long l) return Members.GetItem(item, l);
        foreach (var part in Py.Str(attr).Split('.'))
            item = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
                ? Members.GetItem(item, (long)i) : Members.GetItem(item, MarkedString.Plain(part));
        return item;
    }

    /// <summary>select/reject semantics: no test name → truthiness, else the named test with the remaining args.</summary>
    private static bool Select(Interpreter interp, object? x, CallArgs a, int testIndex)
    {
        if (a.Positional.Count <= testIndex) return Py.Truthy(x);
        if (a.Positional[testIndex] is not MarkedString test) throw new TemplateFault("the test name must be a string");
        return Tests.Apply(interp, test.Text, x, new CallArgs(a.Positional.Skip(testIndex + 1).ToList(), [], a.Pos));
    }

    private static object? SortKey(object? x, bool caseSensitive) =>
        !caseSensitive && x is MarkedString s ? MarkedString.Plain(s.Text.ToLowerInvariant()) : x;

    private static List<object?> Sorted(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        var keyed = items.Select((x, i) => (Item: x, Key: key(x), Index: i)).ToList();
        keyed.Sort((p, q) =>
        {
            int c = Py.Compare(p.Key, q.Key, "<");
            if (reverse) c = -c;
            return c != 0 ? c : p.Index.CompareTo(q.Index);
        });
        return keyed.Select(k => k.Item).ToList();
    }

    private static object? ToInt(object? v, object? fallback, long numberBase)
    {
        switch (v)
        {
            case long: return v;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case MarkedString s:
            {
                var t = s.Text.Trim().Replace("_", "");
                if (numberBase == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
                if (numberBase != 10)
                {
                    try { return Convert.ToInt64(t, (int)numberBase); } catch (Exception) { return fallback; }
                }
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d2) && double.IsFinite(d2)) return (long)Math.Truncate(d2);
                return fallback;
            }
            default: return fallback;
        }
    }

    private static object? ToFloat(object? v, object? fallback) => v switch
    {
        long l => (double)l,
        double => v,
        bool b => b ? 1.0 : 0.0,
        MarkedString s when double.TryParse(s.Text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => fallback,
    };

    /// <summary>jinja2 3.1's indent: every line but the first (unless first=True) gets the indent, blank lines only
    /// with blank=True.</summary>
    private static MarkedString Indent(MarkedString s, object? width, bool first, bool blank)
    {
        var indention = width switch
        {
            MarkedString w => w.Text,
            long n => new string(' ', (int)n),
            _ => throw new TemplateFault($"indent width must be an int or a string, not {Py.TypeName(width)}"),
        };
        var lines = Py.Iterate(StringMethods.Get(MarkedString.Concat(s, MarkedString.Plain("\n")), "splitlines")!
            .Invoke(null!, new CallArgs([], [], 0))).Cast<MarkedString>().ToList();
        var b = new MarkedBuilder();
        for (int i = 0; i < lines.Count; i++)
        {
            if (i > 0) b.Append("\n");
            bool indentThis = i == 0 ? first : blank || lines[i].Length > 0;
            if (indentThis) b.Append(indention);
            b.Append(lines[i]);
        }
        return b.ToMarked();
    }
}
