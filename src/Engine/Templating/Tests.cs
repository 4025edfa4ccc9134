namespace Engine.Templating;

/// <summary>jinja2's tests (<c>x is name</c>), with Python's types: bool counts as a number but not as an integer,
/// strings and dicts are sequences, undefined is iterable.</summary>
internal static class Tests
{
    public static readonly HashSet<string> Known =
    [
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer", "float",
        "boolean", "true", "false", "even", "odd", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan",
        "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "lower", "upper", "callable",
    ];

    public static bool Apply(Interpreter interp, string name, object? v, CallArgs a)
    {
        object? Other() => Args.Get(a, 0, "other", required: true);
        switch (name)
        {
            case "defined": return v is not Undefined;
            case "undefined": return v is Undefined;
            case "none": return v is null;
            case "string": return v is MarkedString;
            case "mapping": return v is DictValue;
            case "iterable": return v is MarkedString or List<object?> or DictValue or Undefined;
            case "sequence": return v is MarkedString or List<object?> or DictValue;
            case "number": return v is long or double or bool;
            case "integer": return v is long;
            case "float": return v is double;
            case "boolean": return v is bool;
            case "true": return v is true;
            case "false": return v is false;
            case "even": return Int(v) % 2 == 0;
            case "odd": return Int(v) % 2 != 0;
            case "divisibleby": { var n = Int(Other()); return n != 0 ? Int(v) % n == 0 : throw new TemplateFault("integer division or modulo by zero"); }
            case "eq" or "equalto" or "==": return Py.Equals(v, Other());
            case "ne" or "!=": return !Py.Equals(v, Other());
            case "lt" or "lessthan" or "<": return Py.Compare(v, Other(), "<") < 0;
            case "le" or "<=": return Py.Compare(v, Other(), "<=") <= 0;
            case "gt" or "greaterthan" or ">": return Py.Compare(v, Other(), ">") > 0;
            case "ge" or ">=": return Py.Compare(v, Other(), ">=") >= 0;
            case "in": return Py.Contains(Args.Get(a, 0, "seq", required: true), v);
            case "sameas":
            {
                var o = Other();
                return v is null || o is null || v is bool || o is bool ? Equals(v, o) : ReferenceEquals(v, o);
            }
            case "lower": return v is MarkedString s && s.Text.Any(char.IsLower) && !s.Text.Any(char.IsUpper);
            case "upper": return v is MarkedString s2 && s2.Text.Any(char.IsUpper) && !s2.Text.Any(char.IsLower);
            case "callable": return v is Callable;
            default: throw new TemplateFault($"unsupported test '{name}'");
        }
    }

    private static long Int(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        Undefined u => throw Py.UndefinedFault(u),
        _ => throw new TemplateFault($"expected an integer, got {Py.TypeName(v)}"),
    };
}
