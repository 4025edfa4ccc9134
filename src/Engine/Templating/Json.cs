using System.Globalization;
using System.Text;

namespace Engine.Templating;

/// <summary>Python's <c>json.dumps</c> as Hugging Face's <c>tojson</c> filter calls it: ensure_ascii off by default,
/// <c>indent</c> (int or string), <c>separators</c>, <c>sort_keys</c>; separators default to ", "/": " without indent
/// and ","/": " with it. Floats print as Python's repr; non-string keys as JSON text.</summary>
internal static class Json
{
    public static string Dumps(object? v, object? indent, object? separators, bool sortKeys, bool ensureAscii)
    {
        string? ind = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(n, 0)),
            MarkedString s => s.Text,
            _ => throw new TemplateFault($"tojson indent must be an int or a string, not {Py.TypeName(indent)}"),
        };
        string item = ind is null ? ", " : ",", key = ": ";
        if (separators is List<object?> { Count: 2 } sep && sep[0] is MarkedString a && sep[1] is MarkedString b) (item, key) = (a.Text, b.Text);
        else if (separators is not null) throw new TemplateFault("tojson separators must be a pair of strings");
        var sb = new StringBuilder();
        Write(v, 0);
        return sb.ToString();

        void Newline(int level)
        {
            if (ind is null) return;
            sb.Append('\n');
            for (int i = 0; i < level; i++) sb.Append(ind);
        }

        void Write(object? x, int level)
        {
            switch (x)
            {
                case null: sb.Append("null"); break;
                case bool bv: sb.Append(bv ? "true" : "false"); break;
                case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d:
                    sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FloatRepr(d));
                    break;
                case MarkedString s: String(s.Text); break;
                case List<object?> list:
                    if (list.Count == 0) { sb.Append("[]"); break; }
                    sb.Append('[');
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (i > 0) sb.Append(item);
                        Newline(level + 1);
                        Write(list[i], level + 1);
                    }
                    Newline(level);
                    sb.Append(']');
                    break;
                case DictValue dict:
                {
                    if (dict.Count == 0) { sb.Append("{}"); break; }
                    var pairs = dict.Select(kv => (Key: KeyText(kv.Key), kv.Value)).ToList();
                    if (sortKeys) pairs = pairs.OrderBy(p => p.Key, Comparer<string>.Create(Py.CompareCodePoints)).ToList();
                    sb.Append('{');
                    for (int i = 0; i < pairs.Count; i++)
                    {
                        if (i > 0) sb.Append(item);
                        Newline(level + 1);
                        String(pairs[i].Key);
                        sb.Append(key);
                        Write(pairs[i].Value, level + 1);
                    }
                    Newline(level);
                    sb.Append('}');
                    break;
                }
                default:
                    throw new TemplateFault($"Object of type {Py.TypeName(x)} is not JSON serializable");
            }
        }

        string KeyText(object k) => k switch
        {
            string s => s,
            bool bk => bk ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => Py.FloatRepr(d),
            DictValue.NoneKey => "null",
            _ => throw new TemplateFault($"keys must be str, int, float, bool or None, not {k.GetType().Name}"),
        };

        void String(string s)
        {
            sb.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.Append($"\\u{(int)c:x4}");
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }
    }
}
