namespace Engine.Data;

/// <summary>Renders a sample into segments: text to tokenize, BOS/EOS to insert as ids, and which parts are learned.
/// Templates never emit the sample's first BOS unless their format shows it (llama-2); <see cref="SampleEncoder"/> adds
/// BOS in front when the first segment is not one.</summary>
internal abstract class ChatTemplate
{
    public abstract string Name { get; }

    public IReadOnlyList<TemplateSegment> Render(Sample sample)
    {
        var output = new List<TemplateSegment>();
        switch (sample)
        {
            case ConversationSample c: RenderConversation(c, output); break;
            case TextSample t: RenderText(t, output); break;
            default: throw new ArgumentException($"unknown sample type {sample.GetType().Name}", nameof(sample));
        }
        return output;
    }

    protected abstract void RenderConversation(ConversationSample conversation, List<TemplateSegment> output);

    protected virtual void RenderText(TextSample text, List<TemplateSegment> output) =>
        throw new EngineException($"template {Name} renders conversations, but sample {text.Index} is plain text; use --template raw for plain text");

    /// <summary>The first user message with an Alpaca "input" appended after a blank line, for templates that have no
    /// place of their own for it.</summary>
    protected static string UserText(ConversationSample c, int turn) =>
        turn == 0 && !string.IsNullOrEmpty(c.Context) ? c.Turns[0].Text + "\n\n" + c.Context : c.Turns[turn].Text;

    public static IReadOnlyList<string> Names { get; } = new[] { VicunaTemplate.TemplateName, Llama2Template.TemplateName, AlpacaTemplate.TemplateName, RawTemplate.TemplateName, JinjaChatTemplate.TemplateName };

    /// <summary>The template named <paramref name="name"/>; "chat" is the model's own template
    /// (<paramref name="modelTemplate"/>), refused when the model has none.</summary>
    public static ChatTemplate Get(string name, JinjaChatTemplate? modelTemplate = null) => name.ToLowerInvariant() switch
    {
        JinjaChatTemplate.TemplateName => modelTemplate ?? throw new EngineException(
            "--template chat: the model has no chat template (looked for chat_template.jinja and tokenizer_config.json's chat_template beside the model or tokenizer, and tokenizer.chat_template in a GGUF file); pick one of vicuna_v1.1, llama-2, alpaca, raw"),
        VicunaTemplate.TemplateName or "vicuna" => new VicunaTemplate(),
        Llama2Template.TemplateName or "llama2" => new Llama2Template(),
        AlpacaTemplate.TemplateName => new AlpacaTemplate(),
        RawTemplate.TemplateName => new RawTemplate(),
        _ => throw new EngineException($"unknown chat template \"{name}\"; expected one of {string.Join(", ", Names)}"),
    };

    /// <summary>ShareGPT and OpenAI messages → the model's own chat template when it has one, else vicuna_v1.1
    /// (FastChat's default); Alpaca → alpaca, text → raw.</summary>
    public static ChatTemplate DefaultFor(DataFormat format, JinjaChatTemplate? modelTemplate = null) => format switch
    {
        DataFormat.ShareGpt or DataFormat.OpenAiMessages => modelTemplate ?? (ChatTemplate)new VicunaTemplate(),
        DataFormat.Alpaca => new AlpacaTemplate(),
        _ => new RawTemplate(),
    };

    /// <summary><see cref="Get"/> when a name is given, else <see cref="DefaultFor"/>. The model's template is
    /// looked up (and parsed) only when it is used: "chat", or conversation data without --template.</summary>
    public static ChatTemplate Choose(string? name, DataFormat format, Func<JinjaChatTemplate?>? modelTemplate)
    {
        bool wanted = name is null ? format is DataFormat.ShareGpt or DataFormat.OpenAiMessages
            : name.Equals(JinjaChatTemplate.TemplateName, StringComparison.OrdinalIgnoreCase);
        var model = wanted ? modelTemplate?.Invoke() : null;
        return name is null ? DefaultFor(format, model) : Get(name, model);
    }

    public override string ToString() => Name;
}
