namespace Engine.Templating;

/// <summary>A parsed template node; <see cref="Pos"/> is its offset in the source, for line:column in errors.</summary>
internal abstract record Node(int Pos);

// ---- statements ----
internal sealed record TextNode(int Pos, string Text) : Node(Pos);
internal sealed record OutputNode(int Pos, Expr Value) : Node(Pos);
internal sealed record ForNode(int Pos, Target Target, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node(Pos);
internal sealed record IfNode(int Pos, List<(Expr Test, List<Node> Body)> Branches, List<Node>? Else) : Node(Pos);
internal sealed record SetNode(int Pos, Target Target, Expr Value) : Node(Pos);
internal sealed record SetBlockNode(int Pos, Target Target, List<Node> Body, List<FilterExpr> Filters) : Node(Pos);
internal sealed record MacroNode(int Pos, string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body) : Node(Pos);
internal sealed record FilterBlockNode(int Pos, List<FilterExpr> Filters, List<Node> Body) : Node(Pos);
/// <summary>Hugging Face's <c>{% generation %}</c> (AssistantTracker): the body renders as is.</summary>
internal sealed record GenerationNode(int Pos, List<Node> Body) : Node(Pos);
internal sealed record BreakNode(int Pos) : Node(Pos);
internal sealed record ContinueNode(int Pos) : Node(Pos);

// ---- assignment targets ----
internal abstract record Target(int Pos) : Node(Pos);
internal sealed record NameTarget(int Pos, string Name) : Target(Pos);
internal sealed record TupleTarget(int Pos, List<Target> Items) : Target(Pos);
internal sealed record AttrTarget(int Pos, string Name, string Attribute) : Target(Pos);

// ---- expressions ----
internal abstract record Expr(int Pos) : Node(Pos);
internal sealed record ConstExpr(int Pos, object? Value) : Expr(Pos);
internal sealed record NameExpr(int Pos, string Name) : Expr(Pos);
internal sealed record AttrExpr(int Pos, Expr Target, string Name) : Expr(Pos);
internal sealed record ItemExpr(int Pos, Expr Target, Expr Index) : Expr(Pos);
internal sealed record SliceExpr(int Pos, Expr? Start, Expr? Stop, Expr? Step) : Expr(Pos);
internal sealed record ListExpr(int Pos, List<Expr> Items) : Expr(Pos);
internal sealed record TupleExpr(int Pos, List<Expr> Items) : Expr(Pos);
internal sealed record DictExpr(int Pos, List<(Expr Key, Expr Value)> Items) : Expr(Pos);
internal sealed record UnaryExpr(int Pos, string Op, Expr Operand) : Expr(Pos);
internal sealed record BinaryExpr(int Pos, string Op, Expr Left, Expr Right) : Expr(Pos);
internal sealed record CompareExpr(int Pos, Expr First, List<(string Op, Expr Right)> Rest) : Expr(Pos);
internal sealed record CondExpr(int Pos, Expr Test, Expr Then, Expr? Else) : Expr(Pos);
internal sealed record Arguments(List<Expr> Positional, List<(string Name, Expr Value)> Named)
{
    public static readonly Arguments None = new([], []);
}
internal sealed record FilterExpr(int Pos, Expr? Operand, string Name, Arguments Args) : Expr(Pos);
internal sealed record TestExpr(int Pos, Expr Operand, string Name, Arguments Args, bool Negated) : Expr(Pos);
internal sealed record CallExpr(int Pos, Expr Callee, Arguments Args) : Expr(Pos);
