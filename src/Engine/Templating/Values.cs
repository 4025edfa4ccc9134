namespace Engine.Templating;

/// <summary>jinja2's default <c>Undefined</c>: prints as "", is false, iterates as empty, has length 0, equals only
/// another undefined; any other use (attribute, item, arithmetic, call) fails with <see cref="Hint"/>.</summary>
internal sealed class Undefined(string hint)
{
    public string Hint { get; } = hint;
}

/// <summary>A Python tuple (a list that prints with parentheses).</summary>
internal sealed class TupleValue : List<object?>
{
    public TupleValue() { }
    public TupleValue(IEnumerable<object?> items) : base(items) { }
}

/// <summary>A Python dict: insertion-ordered; string keys are held as plain <see cref="string"/>.</summary>
internal sealed class DictValue : System.Collections.Generic.OrderedDictionary<object, object?>
{
    public static object Key(object? key) => key switch
    {
        MarkedString s => s.Text,
        null => NoneKey.Instance,
        int i => (long)i,
        _ => key,
    };

    public static object? FromKey(object key) => key switch
    {
        string s => MarkedString.Plain(s),
        NoneKey => null,
        _ => key,
    };

    public void Set(object? key, object? value) => this[Key(key)] = value;

    public bool TryGet(object? key, out object? value) => TryGetValue(Key(key), out value);

    internal sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();
    }
}

/// <summary>What <c>namespace(...)</c> returns: the one object whose attributes a loop body may assign.</summary>
internal sealed class NamespaceValue
{
    public Dictionary<string, object?> Attributes { get; } = new();
}

/// <summary>Positional and keyword arguments of a call, with the call's position for errors.</summary>
internal sealed record CallArgs(List<object?> Positional, List<(string Name, object? Value)> Named, int Pos);

/// <summary>A function value: a global (range, namespace, raise_exception...), a bound method or a macro.</summary>
internal abstract class Callable
{
    public abstract string Name { get; }
    public abstract object? Invoke(Interpreter interp, CallArgs args);
}

internal sealed class BuiltinFunction(string name, Func<Interpreter, CallArgs, object?> body) : Callable
{
    public override string Name => name;
    public override object? Invoke(Interpreter interp, CallArgs args) => body(interp, args);
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopInfo
{
    public required List<object?> Items { get; init; }
    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Items.Count - 1 ? Items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new BuiltinFunction("loop.cycle", (_, a) =>
            a.Positional.Count == 0 ? throw new ArgumentException("no items for cycling given") : a.Positional[Index0 % a.Positional.Count]),
        "changed" => throw new NotSupportedException("loop.changed is not supported"),
        _ => new Undefined($"'LoopContext' object has no attribute '{name}'"),
    };
}
