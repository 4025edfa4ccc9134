using System.Text;

namespace Engine.Templating;

/// <summary>Python str methods that templates call. Substring results keep their marks (see
/// <see cref="MarkedString"/>); case changes keep them when the length is unchanged.</summary>
internal static class StringMethods
{
    public static Callable? Get(MarkedString s, string name)
    {
        Func<CallArgs, object?>? f = name switch
        {
            "strip" => a => Strip(s, Chars(a), true, true),
            "lstrip" => a => Strip(s, Chars(a), true, false),
            "rstrip" => a => Strip(s, Chars(a), false, true),
            "split" => a => Split(s, Sep(a), Args.Int(a, 1, "maxsplit", -1), fromRight: false),
            "rsplit" => a => Split(s, Sep(a), Args.Int(a, 1, "maxsplit", -1), fromRight: true),
            "splitlines" => a => Lines(s),
            "startswith" => a => Affix(s, a, "prefix", start: true),
            "endswith" => a => Affix(s, a, "suffix", start: false),
            "upper" => a => s.WithText(s.Text.ToUpperInvariant()),
            "lower" => a => s.WithText(s.Text.ToLowerInvariant()),
            "title" => a => s.WithText(Title(s.Text)),
            "capitalize" => a => s.WithText(Capitalize(s.Text)),
            "swapcase" => a => s.WithText(string.Concat(s.Text.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)))),
            "replace" => a => Replace(s, Args.Str(a, 0, "old"), Args.Str(a, 1, "new"), Args.Int(a, 2, "count", -1)),
            "find" => a => (long)Index(s.Text, Args.Str(a, 0, "sub").Text, last: false),
            "rfind" => a => (long)Index(s.Text, Args.Str(a, 0, "sub").Text, last: true),
            "count" => a => (long)Count(s.Text, Args.Str(a, 0, "sub").Text),
            "join" => a => Join(s, Py.Iterate(Args.Get(a, 0, "iterable", required: true))),
            "isdigit" => a => s.Length > 0 && s.Text.All(char.IsDigit),
            "isalpha" => a => s.Length > 0 && s.Text.All(char.IsLetter),
            "isalnum" => a => s.Length > 0 && s.Text.All(char.IsLetterOrDigit),
            "isspace" => a => s.Length > 0 && s.Text.All(char.IsWhiteSpace),
            "islower" => a => s.Text.Any(char.IsLower) && !s.Text.Any(char.IsUpper),
            "isupper" => a => s.Text.Any(char.IsUpper) && !s.Text.Any(char.IsLower),
            "format" => a => throw new TemplateFault("str.format is not supported"),
            _ => null,
        };
        return f is null ? null : new BuiltinFunction("str." + name, (_, a) => f(a));
    }

    private static string? Chars(CallArgs a) => Args.Get(a, 0, "chars") switch
    {
        null => null,
        MarkedString m => m.Text,
        var v => throw new TemplateFault($"strip arg must be None or str, not {Py.TypeName(v)}"),
    };

    private static string? Sep(CallArgs a) => Args.Get(a, 0, "sep") switch
    {
        null => null,
        MarkedString m => m.Length == 0 ? throw new TemplateFault("empty separator") : m.Text,
        var v => throw new TemplateFault($"must be str or None, not {Py.TypeName(v)}"),
    };

    public static MarkedString Strip(MarkedString s, string? chars, bool left, bool right)
    {
        var t = s.Text;
        int a = 0, b = t.Length;
        bool Strippable(char c) => chars is null ? char.IsWhiteSpace(c) : chars.Contains(c);
        if (left) while (a < b && Strippable(t[a])) a++;
        if (right) while (b > a && Strippable(t[b - 1])) b--;
        return s.Substring(a, b - a);
    }

    public static List<object?> Split(MarkedString s, string? sep, long max, bool fromRight)
    {
        var t = s.Text;
        var parts = new List<(int Start, int End)>();
        if (sep is null)
        {
            // Runs of whitespace; leading/trailing whitespace gives no empty parts.
            var words = new List<(int, int)>();
            int i = 0;
            while (i < t.Length)
            {
                while (i < t.Length && char.IsWhiteSpace(t[i])) i++;
                if (i >= t.Length) break;
                int j = i;
                while (j < t.Length && !char.IsWhiteSpace(t[j])) j++;
                words.Add((i, j));
                i = j;
            }
            if (max < 0 || words.Count <= max) parts = words;
            else if (!fromRight)
            {
                parts.AddRange(words.Take((int)max));
                // Python keeps the remainder's trailing whitespace.
                parts.Add((words[(int)max].Item1, t.Length));
            }
            else
            {
                int keep = (int)max;
                // The remainder keeps its leading whitespace, loses the whitespace before the split words.
                int e2 = keep == 0 ? t.Length : words[^keep].Item1;
                while (e2 > 0 && char.IsWhiteSpace(t[e2 - 1])) e2--;
                parts.Add((0, e2));
                parts.AddRange(words.Skip(words.Count - keep));
            }
        }
        else if (!fromRight)
        {
            int start = 0, n = 0;
            while (max < 0 || n < max)
            {
                int k = t.IndexOf(sep, start, StringComparison.Ordinal);
                if (k < 0) break;
                parts.Add((start, k));
                start = k + sep.Length;
                n++;
            }
            parts.Add((start, t.Length));
        }
        else
        {
            int end = t.Length, n = 0;
            var rev = new List<(int, int)>();
            while (max < 0 || n < max)
            {
                int k = end - sep.Length < 0 ? -1 : t.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
                if (k < 0) break;
                rev.Add((k + sep.Length, end));
                end = k;
                n++;
            }
            rev.Add((0, end));
            rev.Reverse();
            parts = rev;
        }
        return parts.Select(p => (object?)s.Substring(p.Start, p.End - p.Start)).ToList();
    }

    private static List<object?> Lines(MarkedString s)
    {
        var r = new List<object?>();
        var t = s.Text;
        int start = 0;
        for (int i = 0; i < t.Length; i++)
        {
            if (t[i] is not ('\n' or '\r')) continue;
            r.Add(s.Substring(start, i - start));
            if (t[i] == '\r' && i + 1 < t.Length && t[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < t.Length) r.Add(s.Substring(start, t.Length - start));
        return r;
    }

    private static bool Affix(MarkedString s, CallArgs a, string name, bool start)
    {
        var v = Args.Get(a, 0, name, required: true);
        var options = v switch
        {
            MarkedString m => [m.Text],
            TupleValue t => t.Select(x => x is MarkedString m2 ? m2.Text : throw new TemplateFault($"tuple for {(start ? "startswith" : "endswith")} must only contain str")).ToList(),
            _ => throw new TemplateFault($"{(start ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {Py.TypeName(v)}"),
        };
        return options.Any(o => start ? s.Text.StartsWith(o, StringComparison.Ordinal) : s.Text.EndsWith(o, StringComparison.Ordinal));
    }

    public static MarkedString Replace(MarkedString s, MarkedString old, MarkedString @new, long count)
    {
        var b = new MarkedBuilder();
        var t = s.Text;
        if (old.Length == 0)
        {
            // Python inserts the replacement before every character and at the end.
            int n = 0;
            for (int i = 0; i <= t.Length; i++)
            {
                if (count < 0 || n < count) { b.Append(@new); n++; }
                if (i < t.Length) b.Append(s, i, 1);
            }
            return b.ToMarked();
        }
        int pos = 0, done = 0;
        while (count < 0 || done < count)
        {
            int k = t.IndexOf(old.Text, pos, StringComparison.Ordinal);
            if (k < 0) break;
            b.Append(s, pos, k - pos);
            b.Append(@new);
            pos = k + old.Length;
            done++;
        }
        b.Append(s, pos, t.Length - pos);
        return b.ToMarked();
    }

    public static MarkedString Join(MarkedString sep, IEnumerable<object?> items)
    {
        var b = new MarkedBuilder();
        bool first = true;
        foreach (var item in items)
        {
            if (!first) b.Append(sep);
            first = false;
            b.Append(Py.ToMarked(item));
        }
        return b.ToMarked();
    }

    private static int Index(string t, string sub, bool last)
    {
        int i = last ? t.LastIndexOf(sub, StringComparison.Ordinal) : t.IndexOf(sub, StringComparison.Ordinal);
        return i < 0 ? -1 : Py.CodePointLength(t[..i]);
    }

    private static int Count(string t, string sub)
    {
        if (sub.Length == 0) return Py.CodePointLength(t) + 1;
        int n = 0;
        for (int i = t.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = t.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's str.title: a cased character after an uncased one is upper-cased, the others lower-cased.</summary>
    public static string Title(string t)
    {
        var sb = new StringBuilder(t.Length);
        bool prevCased = false;
        foreach (var c in t)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsUpper(c) || char.IsLower(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string t) =>
        t.Length == 0 ? t : char.ToUpperInvariant(t[0]) + t[1..].ToLowerInvariant();
}
