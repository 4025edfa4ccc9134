using System.Globalization;

namespace Engine.Templating;

/// <summary>Recursive-descent parser for the jinja2 subset chat templates use, with jinja2's precedence
/// (conditional &lt; or &lt; and &lt; not &lt; comparisons/in &lt; + - &lt; ~ &lt; * / // % &lt; ** &lt; unary
/// &lt; filters and tests &lt; postfix). Anything else (include, extends, call blocks, recursive loops, ...) is
/// refused with the template's name, line and column.</summary>
internal sealed class Parser
{
    private readonly TemplateSource _src;
    private readonly List<Token> _tokens;
    private int _i;

    private Parser(TemplateSource src)
    {
        _src = src;
        _tokens = Lexer.Tokenize(src);
    }

    public static List<Node> Parse(TemplateSource src)
    {
        var p = new Parser(src);
        var body = p.Body(null, []);
        return body;
    }

    private Token Cur => _tokens[_i];
    private Token Peek(int k = 1) => _tokens[Math.Min(_i + k, _tokens.Count - 1)];
    private Token Next() => _tokens[_i++];

    private EngineException Error(Token t, string message) => _src.Error(t.Pos, message);

    private Token Expect(TokenKind kind, string? value, string what)
    {
        var t = Cur;
        if (t.Kind != kind || (value is not null && t.Value != value))
            throw Error(t, $"expected {what}, found {Describe(t)}");
        _i++;
        return t;
    }

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "the end of the template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VariableEnd => "'}}'",
        TokenKind.BlockBegin => "'{%'",
        TokenKind.VariableBegin => "'{{'",
        TokenKind.String => "a string",
        TokenKind.Data => "template text",
        _ => $"'{t.Value}'",
    };

    private bool AcceptOp(string op)
    {
        if (!Cur.IsOp(op)) return false;
        _i++;
        return true;
    }

    private bool AcceptName(string name)
    {
        if (!Cur.IsName(name)) return false;
        _i++;
        return true;
    }

    // ---------------- statements ----------------

    /// <summary>Nodes up to a block tag named in <paramref name="ends"/> (left unread: the caller reads it with
    /// <see cref="EndTag"/>); <paramref name="opener"/> is the statement being closed, for the error at the end.</summary>
    private List<Node> Body(Token? opener, string[] ends)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var t = Cur;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (ends.Length > 0)
                        throw Error(opener!.Value, $"'{opener.Value.Value}' is not closed: expected {string.Join(" or ", ends.Select(e => "{% " + e + " %}"))} before the end of the template");
                    return nodes;
                case TokenKind.Data:
                    _i++;
                    nodes.Add(new TextNode(t.Pos, t.Value));
                    break;
                case TokenKind.VariableBegin:
                    _i++;
                    var e = Tuple(allowCondition: true);
                    Expect(TokenKind.VariableEnd, null, "'}}'");
                    nodes.Add(new OutputNode(t.Pos, e));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek();
                    if (name.Kind != TokenKind.Name) throw Error(name, $"expected a statement name after '{{%', found {Describe(name)}");
                    if (ends.Contains(name.Value)) return nodes;
                    _i += 2;
                    nodes.Add(Statement(name));
                    break;
                default:
                    throw Error(t, $"unexpected {Describe(t)}");
            }
        }
    }

    /// <summary>Reads "{% name" of an end or middle tag and returns the name.</summary>
    private string EndTag()
    {
        Expect(TokenKind.BlockBegin, null, "'{%'");
        return Expect(TokenKind.Name, null, "a tag name").Value;
    }

    private void BlockEnd() => Expect(TokenKind.BlockEnd, null, "'%}'");

    private Node Statement(Token name)
    {
        switch (name.Value)
        {
            case "for": return For(name);
            case "if": return If(name);
            case "set": return Set(name);
            case "macro": return Macro(name);
            case "filter":
            {
                var filters = FilterChain(null);
                BlockEnd();
                var body = Body(name, ["endfilter"]);
                EndTag(); BlockEnd();
                return new FilterBlockNode(name.Pos, filters, body);
            }
            case "generation":
            {
                BlockEnd();
                var body = Body(name, ["endgeneration"]);
                EndTag(); BlockEnd();
                return new GenerationNode(name.Pos, body);
            }
            case "break": BlockEnd(); return new BreakNode(name.Pos);
            case "continue": BlockEnd(); return new ContinueNode(name.Pos);
            default:
                throw Error(name, name.Value.StartsWith("end", StringComparison.Ordinal) || name.Value is "else" or "elif"
                    ? $"unexpected '{{% {name.Value} %}}' with no open statement it could close"
                    : $"unsupported statement '{{% {name.Value} %}}' (supported: for, if, set, macro, filter, generation, break, continue, raw)");
        }
    }

    private Node For(Token at)
    {
        var target = AssignTarget(allowAttribute: false);
        Expect(TokenKind.Name, "in", "'in'");
        var iterable = Tuple(allowCondition: false);
        Expr? filter = null;
        if (AcceptName("if")) filter = Expression(allowCondition: true);
        if (Cur.IsName("recursive")) throw Error(Cur, "unsupported: recursive for loops");
        BlockEnd();
        var body = Body(at, ["endfor", "else"]);
        List<Node>? elseBody = null;
        if (EndTag() == "else")
        {
            BlockEnd();
            elseBody = Body(at, ["endfor"]);
            EndTag();
        }
        BlockEnd();
        return new ForNode(at.Pos, target, iterable, filter, body, elseBody);
    }

    private Node If(Token at)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        var test = Tuple(allowCondition: false);
        while (true)
        {
            BlockEnd();
            var body = Body(at, ["elif", "else", "endif"]);
            branches.Add((test, body));
            var tag = EndTag();
            if (tag == "elif") { test = Tuple(allowCondition: false); continue; }
            if (tag == "else")
            {
                BlockEnd();
                elseBody = Body(at, ["endif"]);
                EndTag();
            }
            BlockEnd();
            return new IfNode(at.Pos, branches, elseBody);
        }
    }

    private Node Set(Token at)
    {
        var target = AssignTarget(allowAttribute: true);
        if (AcceptOp("="))
        {
            var value = Tuple(allowCondition: true);
            BlockEnd();
            return new SetNode(at.Pos, target, value);
        }
        var filters = Cur.IsOp("|") ? FilterChain(null, leadingBar: true) : [];
        BlockEnd();
        var body = Body(at, ["endset"]);
        EndTag(); BlockEnd();
        return new SetBlockNode(at.Pos, target, body, filters);
    }

    private Node Macro(Token at)
    {
        var name = Expect(TokenKind.Name, null, "the macro's name").Value;
        Expect(TokenKind.Operator, "(", "'('");
        var parameters = new List<(string, Expr?)>();
        while (!AcceptOp(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",", "',' or ')'");
            if (AcceptOp(")")) break;
            var p = Expect(TokenKind.Name, null, "a parameter name").Value;
            parameters.Add((p, AcceptOp("=") ? Expression(allowCondition: true) : null));
        }
        BlockEnd();
        var body = Body(at, ["endmacro"]);
        EndTag(); BlockEnd();
        return new MacroNode(at.Pos, name, parameters, body);
    }

    private Target AssignTarget(bool allowAttribute)
    {
        var start = Cur;
        var items = new List<Target>();
        bool paren = AcceptOp("(");
        while (true)
        {
            var n = Expect(TokenKind.Name, null, "a variable name");
            if (allowAttribute && !paren && items.Count == 0 && AcceptOp("."))
            {
                var attr = Expect(TokenKind.Name, null, "an attribute name");
                return new AttrTarget(n.Pos, n.Value, attr.Value);
            }
            items.Add(new NameTarget(n.Pos, n.Value));
            if (!AcceptOp(",")) break;
            if (!(Cur.Kind == TokenKind.Name && !Cur.IsName("in"))) break;
        }
        if (paren) Expect(TokenKind.Operator, ")", "')'");
        return items.Count == 1 && !paren ? items[0] : new TupleTarget(start.Pos, items);
    }

    // ---------------- expressions ----------------

    /// <summary>An expression, or a tuple when commas separate several (jinja2's parse_tuple).</summary>
    private Expr Tuple(bool allowCondition)
    {
        var start = Cur;
        var first = Expression(allowCondition);
        if (!Cur.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (AcceptOp(","))
        {
            if (Cur.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd || Cur.IsName("if")) break;
            items.Add(Expression(allowCondition));
        }
        return new TupleExpr(start.Pos, items);
    }

    private Expr Expression(bool allowCondition = true) => allowCondition ? Conditional() : Or();

    private Expr Conditional()
    {
        var e = Or();
        while (Cur.IsName("if"))
        {
            var at = Next();
            var test = Or();
            Expr? otherwise = AcceptName("else") ? Conditional() : null;
            e = new CondExpr(at.Pos, test, e, otherwise);
        }
        return e;
    }

    private Expr Or()
    {
        var e = And();
        while (Cur.IsName("or")) { var at = Next(); e = new BinaryExpr(at.Pos, "or", e, And()); }
        return e;
    }

    private Expr And()
    {
        var e = Not();
        while (Cur.IsName("and")) { var at = Next(); e = new BinaryExpr(at.Pos, "and", e, Not()); }
        return e;
    }

    private Expr Not()
    {
        if (Cur.IsName("not")) { var at = Next(); return new UnaryExpr(at.Pos, "not", Not()); }
        return Compare();
    }

    private Expr Compare()
    {
        var first = Math1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            var t = Cur;
            if (t.Kind == TokenKind.Operator && t.Value is "==" or "!=" or "<" or ">" or "<=" or ">=") { _i++; rest.Add((t.Value, Math1())); }
            else if (t.IsName("in")) { _i++; rest.Add(("in", Math1())); }
            else if (t.IsName("not") && Peek().IsName("in")) { _i += 2; rest.Add(("not in", Math1())); }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first.Pos, first, rest);
    }

    private Expr Math1()
    {
        var e = Concat();
        while (Cur.Kind == TokenKind.Operator && Cur.Value is "+" or "-") { var op = Next(); e = new BinaryExpr(op.Pos, op.Value, e, Concat()); }
        return e;
    }

    private Expr Concat()
    {
        var e = Math2();
        while (Cur.IsOp("~")) { var op = Next(); e = new BinaryExpr(op.Pos, "~", e, Math2()); }
        return e;
    }

    private Expr Math2()
    {
        var e = Pow();
        while (Cur.Kind == TokenKind.Operator && Cur.Value is "*" or "/" or "//" or "%") { var op = Next(); e = new BinaryExpr(op.Pos, op.Value, e, Pow()); }
        return e;
    }

    private Expr Pow()
    {
        var e = Unary(withFilter: true);
        while (Cur.IsOp("**")) { var op = Next(); e = new BinaryExpr(op.Pos, "**", e, Unary(withFilter: true)); }
        return e;
    }

    private Expr Unary(bool withFilter)
    {
        Expr e;
        if (Cur.Kind == TokenKind.Operator && Cur.Value is "-" or "+")
        {
            var op = Next();
            e = new UnaryExpr(op.Pos, op.Value, Unary(withFilter: false));
        }
        else e = Primary();
        e = Postfix(e);
        return withFilter ? FilterAndTests(e) : e;
    }

    private Expr Primary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new ConstExpr(t.Pos, true),
                    "false" or "False" => new ConstExpr(t.Pos, false),
                    "none" or "None" => new ConstExpr(t.Pos, null),
                    _ => new NameExpr(t.Pos, t.Value),
                };
            case TokenKind.String:
            {
                var text = t.Value;
                while (Cur.Kind == TokenKind.String) text += Next().Value;
                return new ConstExpr(t.Pos, MarkedString.Plain(text));
            }
            case TokenKind.Integer:
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var l))
                    throw Error(t, $"integer literal {t.Value} is out of the supported 64-bit range");
                return new ConstExpr(t.Pos, l);
            case TokenKind.Float:
                return new ConstExpr(t.Pos, double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Operator when t.Value == "(":
            {
                if (AcceptOp(")")) return new TupleExpr(t.Pos, []);
                var first = Expression();
                if (AcceptOp(")")) return first;
                var items = new List<Expr> { first };
                while (AcceptOp(","))
                {
                    if (Cur.IsOp(")")) break;
                    items.Add(Expression());
                }
                Expect(TokenKind.Operator, ")", "')'");
                return new TupleExpr(t.Pos, items);
            }
            case TokenKind.Operator when t.Value == "[":
            {
                var items = new List<Expr>();
                while (!AcceptOp("]"))
                {
                    if (items.Count > 0) { Expect(TokenKind.Operator, ",", "',' or ']'"); if (AcceptOp("]")) break; }
                    items.Add(Expression());
                }
                return new ListExpr(t.Pos, items);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!AcceptOp("}"))
                {
                    if (items.Count > 0) { Expect(TokenKind.Operator, ",", "',' or '}'"); if (AcceptOp("}")) break; }
                    var key = Expression();
                    Expect(TokenKind.Operator, ":", "':'");
                    items.Add((key, Expression()));
                }
                return new DictExpr(t.Pos, items);
            }
            default:
                throw Error(t, $"unexpected {Describe(t)} in an expression");
        }
    }

    private Expr Postfix(Expr e)
    {
        while (true)
        {
            var t = Cur;
            if (t.IsOp("."))
            {
                _i++;
                var n = Next();
                if (n.Kind == TokenKind.Name) e = new AttrExpr(t.Pos, e, n.Value);
                else if (n.Kind == TokenKind.Integer) e = new ItemExpr(t.Pos, e, new ConstExpr(n.Pos, long.Parse(n.Value, CultureInfo.InvariantCulture)));
                else throw Error(n, $"expected an attribute name after '.', found {Describe(n)}");
            }
            else if (t.IsOp("["))
            {
                _i++;
                e = new ItemExpr(t.Pos, e, Subscript());
                Expect(TokenKind.Operator, "]", "']'");
            }
            else if (t.IsOp("(")) { _i++; e = new CallExpr(t.Pos, e, CallArguments()); }
            else return e;
        }
    }

    private Expr Subscript()
    {
        var at = Cur;
        Expr? start = null, stop = null, step = null;
        if (!Cur.IsOp(":"))
        {
            start = Expression();
            if (!Cur.IsOp(":")) return start;
        }
        Expect(TokenKind.Operator, ":", "':'");
        if (!Cur.IsOp("]") && !Cur.IsOp(":")) stop = Expression();
        if (AcceptOp(":") && !Cur.IsOp("]")) step = Expression();
        return new SliceExpr(at.Pos, start, stop, step);
    }

    /// <summary>Arguments after "(" up to and including ")".</summary>
    private Arguments CallArguments()
    {
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!AcceptOp(")"))
        {
            if (positional.Count + named.Count > 0) { Expect(TokenKind.Operator, ",", "',' or ')'"); if (AcceptOp(")")) break; }
            if (Cur.IsOp("*") || Cur.IsOp("**")) throw Error(Cur, "unsupported: *args / **kwargs in a call");
            if (Cur.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                var n = Next().Value;
                _i++;
                named.Add((n, Expression()));
            }
            else
            {
                if (named.Count > 0) throw Error(Cur, "a positional argument after a keyword argument");
                positional.Add(Expression());
            }
        }
        return new Arguments(positional, named);
    }

    private Expr FilterAndTests(Expr e)
    {
        while (true)
        {
            if (Cur.IsOp("|")) e = FilterChain(e, leadingBar: true)[^1];
            else if (Cur.IsName("is")) e = Test(e);
            else if (Cur.IsOp("(")) { var t = Next(); e = new CallExpr(t.Pos, e, CallArguments()); }
            else return e;
        }
    }

    /// <summary>"name(args) | name2 ..." applied in turn to <paramref name="operand"/>; each element wraps the
    /// previous one (for a filter block the first operand is null: the block's output).</summary>
    private List<FilterExpr> FilterChain(Expr? operand, bool leadingBar = false)
    {
        var result = new List<FilterExpr>();
        bool first = true;
        while (first ? (!leadingBar || AcceptOp("|")) : AcceptOp("|"))
        {
            first = false;
            var name = Expect(TokenKind.Name, null, "a filter name");
            var fullName = name.Value;
            if (!Filters.Known.Contains(fullName)) throw Error(name, $"unsupported filter '{fullName}'");
            var args = AcceptOp("(") ? CallArguments() : Arguments.None;
            var f = new FilterExpr(name.Pos, operand, fullName, args);
            result.Add(f);
            operand = f;
        }
        return result;
    }

    private Expr Test(Expr operand)
    {
        var at = Next();
        bool negated = AcceptName("not");
        var name = Expect(TokenKind.Name, null, "a test name after 'is'");
        if (!Tests.Known.Contains(name.Value)) throw Error(name, $"unsupported test '{name.Value}'");
        Arguments args = Arguments.None;
        if (AcceptOp("(")) args = CallArguments();
        else if ((Cur.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || Cur.IsOp("[") || Cur.IsOp("{") || Cur.IsOp("("))
                 && !(Cur.IsName("else") || Cur.IsName("or") || Cur.IsName("and") || Cur.IsName("if")))
        {
            if (Cur.IsName("is")) throw Error(Cur, "tests cannot be chained with 'is'");
            args = new Arguments([Postfix(Primary())], []);
        }
        return new TestExpr(at.Pos, operand, name.Value, args, negated);
    }
}
