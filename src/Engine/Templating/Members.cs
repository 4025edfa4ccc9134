namespace Engine.Templating;

/// <summary>Attribute and item lookup as jinja2's sandbox does it (<c>a.b</c> tries the attribute, then the item;
/// <c>a['b']</c> the item, then the attribute; a miss is undefined), slicing, and the str/dict methods templates
/// call. Methods that would change a value (list.append, dict.update, ...) are refused, as in HF's
/// ImmutableSandboxedEnvironment.</summary>
internal static class Members
{
    private static readonly HashSet<string> Mutating =
        ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem", "add", "discard"];

    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case Undefined u: throw Py.UndefinedFault(u);
            case DictValue d:
                if (DictMethod(d, name) is { } m) return m;
                return d.TryGetValue(name, out var v) ? v : new Undefined($"'dict object' has no attribute '{name}'");
            case MarkedString s: return (object?)StringMethods.Get(s, name) ?? new Undefined($"'str object' has no attribute '{name}'");
            case NamespaceValue ns: return ns.Attributes.TryGetValue(name, out var a) ? a : new Undefined($"'Namespace object' has no attribute '{name}'");
            case LoopInfo loop: return loop.Attribute(name);
            case List<object?>:
                if (Mutating.Contains(name)) throw Unsafe(obj, name);
                return new Undefined($"'{Py.TypeName(obj)} object' has no attribute '{name}'");
            case null: return new Undefined($"'None' has no attribute '{name}'");
            default: return new Undefined($"'{Py.TypeName(obj)} object' has no attribute '{name}'");
        }
    }

    private static TemplateFault Unsafe(object obj, string name) =>
        new($"access to attribute '{name}' of '{Py.TypeName(obj)}' object is unsafe: templates run in an immutable sandbox");

    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case Undefined u: throw Py.UndefinedFault(u);
            case DictValue d:
                if (d.TryGet(key, out var v)) return v;
                if (key is MarkedString ks && DictMethod(d, ks.Text) is { } m) return m;
                return new Undefined($"'dict object' has no attribute {Py.Repr(key)}");
            case List<object?> l when key is long or bool:
            {
                long i = key is bool b ? (b ? 1 : 0) : (long)key;
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"'{Py.TypeName(obj)} object' has no element {key}");
            }
            case MarkedString s when key is long idx:
            {
                var chars = Py.Chars(s);
                long i = idx < 0 ? idx + chars.Count : idx;
                return i >= 0 && i < chars.Count ? chars[(int)i] : new Undefined($"'str object' has no element {idx}");
            }
            case LoopInfo or NamespaceValue when key is MarkedString name: return GetAttr(obj, name.Text);
            case MarkedString or List<object?> when key is MarkedString name2: return GetAttr(obj, name2.Text);
            case null: return new Undefined($"'None' has no attribute {Py.Repr(key)}");
            default: return new Undefined($"'{Py.TypeName(obj)} object' has no attribute {Py.Repr(key)}");
        }
    }

    public static object? Slice(object? obj, long? start, long? stop, long? step)
    {
        switch (obj)
        {
            case Undefined u: throw Py.UndefinedFault(u);
            case List<object?> l:
            {
                var idx = Py.SliceIndices(l.Count, start, stop, step);
                var items = idx.Select(i => l[i]);
                return obj is TupleValue ? new TupleValue(items) : items.ToList();
            }
            case MarkedString s:
            {
                var chars = Py.Chars(s);
                var idx = Py.SliceIndices(chars.Count, start, stop, step);
                var b = new MarkedBuilder();
                foreach (var i in idx) b.Append((MarkedString)chars[i]!);
                return b.ToMarked();
            }
            default: throw new TemplateFault($"'{Py.TypeName(obj)}' object is not subscriptable");
        }
    }

    private static Callable? DictMethod(DictValue d, string name) => name switch
    {
        "items" => new BuiltinFunction("dict.items", (_, a) => Args.None(a, "items") ?? d.Select(kv => (object?)new TupleValue([DictValue.FromKey(kv.Key), kv.Value])).ToList()),
        "keys" => new BuiltinFunction("dict.keys", (_, a) => Args.None(a, "keys") ?? d.Keys.Select(DictValue.FromKey).ToList()),
        "values" => new BuiltinFunction("dict.values", (_, a) => Args.None(a, "values") ?? d.Values.ToList()),
        "get" => new BuiltinFunction("dict.get", (_, a) =>
        {
            var key = Args.Get(a, 0, "key", required: true);
            return d.TryGet(key, out var v) ? v : Args.Get(a, 1, "default");
        }),
        _ when Mutating.Contains(name) => throw Unsafe(d, name),
        _ => null,
    };
}

/// <summary>Reading a call's arguments by position or keyword, Python style.</summary>
internal static class Args
{
    public static object? Get(CallArgs a, int index, string name, bool required = false, object? fallback = null)
    {
        if (index < a.Positional.Count) return a.Positional[index];
        foreach (var (n, v) in a.Named) if (n == name) return v;
        if (required) throw new TemplateFault($"missing required argument '{name}'");
        return fallback;
    }

    public static bool Has(CallArgs a, int index, string name) =>
        index < a.Positional.Count || a.Named.Any(n => n.Name == name);

    /// <summary>Null when the call has no arguments, else a fault (for methods that take none).</summary>
    public static object? None(CallArgs a, string name) =>
        a.Positional.Count + a.Named.Count == 0 ? null : throw new TemplateFault($"{name}() takes no arguments");

    public static MarkedString Str(CallArgs a, int index, string name, bool required = true, string? fallback = null)
    {
        var v = Get(a, index, name, required && fallback is null);
        if (v is null && !Has(a, index, name)) return MarkedString.Plain(fallback ?? "");
        return v as MarkedString ?? throw new TemplateFault($"argument '{name}' must be a string, not {Py.TypeName(v)}");
    }

    public static long Int(CallArgs a, int index, string name, long fallback)
    {
        var v = Get(a, index, name, fallback: fallback);
        return v switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            null => fallback,
            _ => throw new TemplateFault($"argument '{name}' must be an integer, not {Py.TypeName(v)}"),
        };
    }

    public static bool Bool(CallArgs a, int index, string name, bool fallback) =>
        Has(a, index, name) ? Py.Truthy(Get(a, index, name)) : fallback;
}
