namespace Engine.Templating;

/// <summary>A parsed jinja2 template, rendered with Hugging Face's chat-template environment: trim_blocks,
/// lstrip_blocks, loop controls, the immutable sandbox, globals <c>raise_exception</c>, <c>strftime_now</c>,
/// <c>range</c>, <c>namespace</c>, <c>dict</c>, and HF's <c>tojson</c>. Values passed in the context are converted
/// with <see cref="FromClr"/>; strings given as <see cref="MarkedString"/> keep their marks into the output.</summary>
internal sealed class JinjaTemplate
{
    private readonly TemplateSource _source;
    private readonly List<Node> _body;

    private JinjaTemplate(TemplateSource source, List<Node> body)
    {
        _source = source;
        _body = body;
    }

    /// <summary>The template's name in messages (a file name, or "tokenizer_config.json:chat_template").</summary>
    public string Name => _source.Name;

    /// <summary>Parses <paramref name="text"/>; a syntax error or an unsupported construct is an
    /// <see cref="EngineException"/> naming <paramref name="name"/>, the line and the column.</summary>
    public static JinjaTemplate Parse(string text, string name)
    {
        var src = new TemplateSource(name, text);
        var body = Parser.Parse(src);
        return new JinjaTemplate(src, body);
    }

    /// <summary>Renders with <paramref name="context"/> (values: null, bool, int, long, double, string,
    /// <see cref="MarkedString"/>, lists, string-keyed dictionaries). <paramref name="now"/> is the clock for
    /// <c>strftime_now</c> (default: local time).</summary>
    public RenderedText Render(IReadOnlyDictionary<string, object?> context, Func<DateTime>? now = null)
    {
        var clock = now ?? (() => DateTime.Now);
        var globals = new Dictionary<string, object?>
        {
            ["raise_exception"] = new BuiltinFunction("raise_exception", (_, a) =>
                throw new TemplateFault("raise_exception: " + Py.Str(Args.Get(a, 0, "message")))),
            ["strftime_now"] = new BuiltinFunction("strftime_now", (_, a) =>
                MarkedString.Plain(Strftime.Format(clock(), Args.Str(a, 0, "format").Text))),
            ["range"] = new BuiltinFunction("range", (_, a) => Range(a)),
            ["namespace"] = new BuiltinFunction("namespace", (_, a) =>
            {
                var ns = new NamespaceValue();
                foreach (var p in a.Positional)
                {
                    if (p is not DictValue d) throw new TemplateFault("namespace() takes keyword arguments or a dict");
                    foreach (var (k, v) in d) ns.Attributes[k as string ?? throw new TemplateFault("namespace keys must be strings")] = v;
                }
                foreach (var (k, v) in a.Named) ns.Attributes[k] = v;
                return ns;
            }),
            ["dict"] = new BuiltinFunction("dict", (_, a) =>
            {
                var d = new DictValue();
                foreach (var (k, v) in a.Named) d.Set(k, v);
                return d;
            }),
        };
        foreach (var (k, v) in context) globals[k] = FromClr(v);
        return new Interpreter(_source).Run(_body, globals);
    }

    private static List<object?> Range(CallArgs a)
    {
        long Int(object? v) => v is long l ? l : v is bool b ? (b ? 1 : 0) : throw new TemplateFault($"range() expects integers, got {Py.TypeName(v)}");
        var p = a.Positional;
        long start = 0, stop, step = 1;
        if (p.Count == 1) stop = Int(p[0]);
        else if (p.Count is 2 or 3) { start = Int(p[0]); stop = Int(p[1]); if (p.Count == 3) step = Int(p[2]); }
        else throw new TemplateFault($"range expected 1 to 3 arguments, got {p.Count}");
        if (step == 0) throw new TemplateFault("range() arg 3 must not be zero");
        var r = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (r.Count >= 100_000) throw new TemplateFault("range() is limited to 100000 items in templates");
            r.Add(i);
        }
        return r;
    }

    /// <summary>A .NET value as a template value.</summary>
    public static object? FromClr(object? v) => v switch
    {
        null => null,
        MarkedString or bool or long or double or Undefined or Callable or NamespaceValue or TupleValue or DictValue => v,
        string s => MarkedString.Plain(s),
        int i => (long)i,
        float f => (double)f,
        List<object?> l => l.Select(FromClr).ToList(),
        System.Collections.IDictionary d => ToDict(d),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(FromClr).ToList(),
        _ => throw new ArgumentException($"a {v.GetType().Name} cannot be passed to a template"),
    };

    private static DictValue ToDict(System.Collections.IDictionary d)
    {
        var r = new DictValue();
        foreach (System.Collections.DictionaryEntry e in d) r.Set(FromClr(e.Key), FromClr(e.Value));
        return r;
    }
}
