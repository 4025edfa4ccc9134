namespace Engine.Templating;

internal enum TokenKind
{
    /// <summary>Template text outside tags, after whitespace control.</summary>
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One lexed token; <see cref="Pos"/> is its offset in <see cref="TemplateSource.Text"/>. Value is the text
/// (Data), the identifier, the decoded string literal, the number's digits or the operator.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Pos)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsOp(string op) => Is(TokenKind.Operator, op);
    public bool IsName(string name) => Is(TokenKind.Name, name);
}
