namespace Engine.Templating;

/// <summary>A runtime error inside the interpreter; the innermost node being evaluated adds its position, and
/// <see cref="JinjaTemplate.Render"/> turns it into an <see cref="EngineException"/> with name:line:column.</summary>
internal sealed class TemplateFault(string message, int pos = -1) : Exception(message)
{
    public int Pos { get; } = pos;
}
