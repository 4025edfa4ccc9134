namespace Engine.Templating;

/// <summary>Walks a parsed template: statements write to the current output (a <see cref="MarkedBuilder"/>, so marks
/// flow from values to the rendered text), expressions follow Python/jinja2 semantics (<see cref="Py"/>). Scopes are
/// jinja2's: a for-loop iteration and a macro call get their own (a <c>set</c> inside does not leak out, hence
/// <c>namespace()</c>); if-blocks do not.</summary>
internal sealed class Interpreter
{
    private sealed class Scope(Scope? parent)
    {
        public readonly Dictionary<string, object?> Vars = new();
        public Scope? Parent { get; } = parent;

        public bool TryGet(string name, out object? value)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s.Vars.TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }
    }

    private enum Flow { Normal, Break, Continue }

    private sealed class Macro(Interpreter interp, MacroNode node, Scope closure) : Callable
    {
        public override string Name => node.Name;

        public override object? Invoke(Interpreter caller, CallArgs args)
        {
            if (interp._depth >= MaxMacroDepth) throw new TemplateFault($"macro '{node.Name}': calls nested deeper than {MaxMacroDepth}");
            var scope = new Scope(closure);
            var ps = node.Parameters;
            if (args.Positional.Count > ps.Count)
                throw new TemplateFault($"macro '{node.Name}' takes not more than {ps.Count} argument(s)");
            for (int i = 0; i < ps.Count; i++)
            {
                if (i < args.Positional.Count) { scope.Vars[ps[i].Name] = args.Positional[i]; continue; }
                int k = args.Named.FindIndex(n => n.Name == ps[i].Name);
                scope.Vars[ps[i].Name] = k >= 0 ? args.Named[k].Value
                    : ps[i].Default is { } d ? interp.Eval(d, scope)
                    : new Undefined($"parameter '{ps[i].Name}' was not provided");
            }
            foreach (var (n, _) in args.Named)
                if (!ps.Any(p => p.Name == n)) throw new TemplateFault($"macro '{node.Name}' takes no keyword argument '{n}'");
            interp._depth++;
            try { return interp.Capture(node.Body, scope); }
            finally { interp._depth--; }
        }
    }

    /// <summary>Macro calls nested deeper than this fail (a recursive macro would otherwise exhaust the stack).</summary>
    public const int MaxMacroDepth = 100;

    private readonly TemplateSource _src;
    private MarkedBuilder _out = new();
    private int _depth;

    public Interpreter(TemplateSource src) => _src = src;

    public TemplateSource Source => _src;

    public RenderedText Run(List<Node> body, IReadOnlyDictionary<string, object?> globals)
    {
        var root = new Scope(null);
        foreach (var (k, v) in globals) root.Vars[k] = v;
        var top = new Scope(root);
        try
        {
            if (ExecBody(body, top) != Flow.Normal) throw new TemplateFault("'break' or 'continue' outside a for loop");
        }
        catch (TemplateFault f)
        {
            throw _src.Error(Math.Max(f.Pos, 0), f.Message);
        }
        return _out.ToRendered();
    }

    private MarkedString Capture(List<Node> body, Scope scope)
    {
        var saved = _out;
        _out = new MarkedBuilder();
        try
        {
            if (ExecBody(body, scope) != Flow.Normal) throw new TemplateFault("'break' or 'continue' outside a for loop");
            return _out.ToMarked();
        }
        finally { _out = saved; }
    }

    private Flow ExecBody(List<Node> body, Scope scope)
    {
        foreach (var node in body)
        {
            var flow = Exec(node, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Exec(Node node, Scope scope)
    {
        switch (node)
        {
            case TextNode t: _out.Append(t.Text); return Flow.Normal;
            case OutputNode o:
            {
                var v = Eval(o.Value, scope);
                if (v is MarkedString s) _out.Append(s); else _out.Append(Py.Str(v));
                return Flow.Normal;
            }
            case IfNode i:
                foreach (var (test, body) in i.Branches)
                    if (Py.Truthy(Eval(test, scope))) return ExecBody(body, scope);
                return i.Else is null ? Flow.Normal : ExecBody(i.Else, scope);
            case ForNode f: ExecFor(f, scope); return Flow.Normal;
            case SetNode s: Assign(s.Target, Eval(s.Value, scope), scope); return Flow.Normal;
            case SetBlockNode sb:
            {
                object? v = Capture(sb.Body, scope);
                foreach (var f in sb.Filters) v = Filters.Apply(this, f.Name, v, EvalArgs(f.Args, scope, f.Pos), f.Pos);
                Assign(sb.Target, v, scope);
                return Flow.Normal;
            }
            case MacroNode m: scope.Vars[m.Name] = new Macro(this, m, scope); return Flow.Normal;
            case FilterBlockNode fb:
            {
                object? v = Capture(fb.Body, scope);
                foreach (var f in fb.Filters) v = Filters.Apply(this, f.Name, v, EvalArgs(f.Args, scope, f.Pos), f.Pos);
                _out.Append(Py.ToMarked(v));
                return Flow.Normal;
            }
            case GenerationNode g: return ExecBody(g.Body, scope);
            case BreakNode: return Flow.Break;
            case ContinueNode: return Flow.Continue;
            default: throw new TemplateFault($"unsupported node {node.GetType().Name}", node.Pos);
        }
    }

    private void ExecFor(ForNode f, Scope scope)
    {
        var items = Wrap(f.Iterable, () => Py.Iterate(Eval(f.Iterable, scope)));
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var s = new Scope(scope);
                Assign(f.Target, item, s);
                if (Py.Truthy(Eval(f.Filter, s))) kept.Add(item);
            }
            items = kept;
        }
        else items = new List<object?>(items);
        if (items.Count == 0)
        {
            if (f.Else is not null) ExecBody(f.Else, new Scope(scope));
            return;
        }
        var loop = new LoopInfo { Items = items };
        for (int i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            var s = new Scope(scope);
            Assign(f.Target, items[i], s);
            s.Vars["loop"] = loop;
            if (ExecBody(f.Body, s) == Flow.Break) break;
        }
    }

    private void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget n: scope.Vars[n.Name] = value; break;
            case TupleTarget t:
            {
                var items = Wrap(t, () => Py.Iterate(value));
                if (items.Count != t.Items.Count)
                    throw new TemplateFault($"cannot unpack {items.Count} value(s) into {t.Items.Count} variable(s)", t.Pos);
                for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                break;
            }
            case AttrTarget a:
                if (!scope.TryGet(a.Name, out var obj) || obj is not NamespaceValue ns)
                    throw new TemplateFault($"cannot assign attribute '{a.Attribute}' on '{a.Name}': only a namespace() object takes attribute assignments", a.Pos);
                ns.Attributes[a.Attribute] = value;
                break;
        }
    }

    private T Wrap<T>(Node at, Func<T> f)
    {
        try { return f(); }
        catch (TemplateFault e) when (e.Pos < 0) { throw new TemplateFault(e.Message, at.Pos); }
    }

    private object? Eval(Expr e, Scope scope)
    {
        try { return EvalCore(e, scope); }
        catch (TemplateFault f) when (f.Pos < 0) { throw new TemplateFault(f.Message, e.Pos); }
        catch (Exception x) when (x is ArgumentException or InvalidOperationException or FormatException or OverflowException
                                      or NotSupportedException or InvalidCastException or IndexOutOfRangeException or KeyNotFoundException)
        {
            throw new TemplateFault(x.Message, e.Pos);
        }
    }

    private object? EvalCore(Expr e, Scope scope)
    {
        switch (e)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : new Undefined($"'{n.Name}' is undefined");
            case AttrExpr a: return Members.GetAttr(Eval(a.Target, scope), a.Name);
            case ItemExpr it:
            {
                var target = Eval(it.Target, scope);
                if (it.Index is SliceExpr sl)
                    return Members.Slice(target, OptInt(sl.Start, scope), OptInt(sl.Stop, scope), OptInt(sl.Step, scope));
                return Members.GetItem(target, Eval(it.Index, scope));
            }
            case ListExpr l: return l.Items.Select(x => Eval(x, scope)).ToList();
            case TupleExpr t: return new TupleValue(t.Items.Select(x => Eval(x, scope)));
            case DictExpr d:
            {
                var r = new DictValue();
                foreach (var (k, val) in d.Items) r.Set(Eval(k, scope), Eval(val, scope));
                return r;
            }
            case UnaryExpr u:
            {
                var x = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !Py.Truthy(x),
                    "-" => x switch { long l => (object)(-l), double dd => -dd, bool b => b ? -1L : 0L, Undefined ud => throw Py.UndefinedFault(ud), _ => throw new TemplateFault($"bad operand type for unary -: '{Py.TypeName(x)}'") },
                    _ => Py.IsNumber(x) ? (x is bool b2 ? (b2 ? 1L : 0L) : x) : x is Undefined ud2 ? throw Py.UndefinedFault(ud2) : throw new TemplateFault($"bad operand type for unary +: '{Py.TypeName(x)}'"),
                };
            }
            case BinaryExpr b:
                if (b.Op == "and") { var l = Eval(b.Left, scope); return Py.Truthy(l) ? Eval(b.Right, scope) : l; }
                if (b.Op == "or") { var l = Eval(b.Left, scope); return Py.Truthy(l) ? l : Eval(b.Right, scope); }
                return Operators.Binary(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, re) in c.Rest)
                {
                    var right = Eval(re, scope);
                    if (!Operators.Compare(op, left, right)) return false;
                    left = right;
                }
                return true;
            }
            case CondExpr c:
                return Py.Truthy(Eval(c.Test, scope)) ? Eval(c.Then, scope)
                    : c.Else is null ? new Undefined("the conditional expression had no else branch") : Eval(c.Else, scope);
            case FilterExpr f:
                return Filters.Apply(this, f.Name, f.Operand is null ? null : Eval(f.Operand, scope), EvalArgs(f.Args, scope, f.Pos), f.Pos);
            case TestExpr t:
            {
                bool r = Tests.Apply(this, t.Name, Eval(t.Operand, scope), EvalArgs(t.Args, scope, t.Pos));
                return t.Negated ? !r : r;
            }
            case CallExpr call:
            {
                var callee = Eval(call.Callee, scope);
                var args = EvalArgs(call.Args, scope, call.Pos);
                return callee switch
                {
                    Callable fn => fn.Invoke(this, args),
                    Undefined u => throw Py.UndefinedFault(u),
                    _ => throw new TemplateFault($"'{Py.TypeName(callee)}' object is not callable"),
                };
            }
            case SliceExpr: throw new TemplateFault("a slice is only allowed inside [ ]");
            default: throw new TemplateFault($"unsupported expression {e.GetType().Name}");
        }
    }

    private long? OptInt(Expr? e, Scope scope)
    {
        if (e is null) return null;
        return Eval(e, scope) switch
        {
            null => null,
            long l => l,
            bool b => b ? 1 : 0,
            var v => throw new TemplateFault($"slice indices must be integers or None, not {Py.TypeName(v)}", e.Pos),
        };
    }

    private CallArgs EvalArgs(Arguments a, Scope scope, int pos) =>
        new(a.Positional.Select(x => Eval(x, scope)).ToList(), a.Named.Select(n => (n.Name, Eval(n.Value, scope))).ToList(), pos);
}
