using Engine.Checkpoints;
using Engine.Templating;

namespace Engine.Data;

/// <summary>A model's own chat template (HF <c>chat_template</c>, Jinja) as a <see cref="ChatTemplate"/>: the
/// conversation is rendered by the interpreter exactly as <c>apply_chat_template(messages, tokenize=False)</c> would
/// (context: <c>messages</c>, <c>bos_token</c>, <c>eos_token</c>, <c>add_generation_prompt=False</c>,
/// <c>tools=None</c>, <c>documents=None</c>), and every message's content is marked, so the rendering splits into
/// template-written text (special tokens parsed) and content (plain text).
/// <para>Learned characters, per assistant message: from its first to its last marked character (so text the
/// template writes between parts of one message, such as Qwen 3's "&lt;/think&gt;" between reasoning and answer, is
/// learned with it), then the end of turn: when the template text right after the content is optional whitespace
/// followed by an end-of-turn token (the model's EOS token, or one of <see cref="EndOfTurnTokens"/>), the learned
/// range runs through the first such token. A template that writes something else after the reply gets no learned
/// end of turn. The start moves back over template text the model itself produces at inference: when rendering the
/// messages before this one with <c>add_generation_prompt=True</c> gives a prefix of the full rendering that ends
/// before the content, everything after that prefix is the model's (Qwen 3's "&lt;think&gt;\n" before the reasoning,
/// or its empty "&lt;think&gt;\n\n&lt;/think&gt;\n\n" block); role headers are in the prefix and are not learned.
/// System and user content are never learned (except with --train-on-inputs, which SampleEncoder applies).</para>
/// <para>Messages: the sample's system prompt (when it has one) as a "system" message, then the turns as
/// "user"/"assistant"; an Alpaca input is appended to the first user message after a blank line.</para></summary>
internal sealed class JinjaChatTemplate : ChatTemplate
{
    public const string TemplateName = "chat";

    /// <summary>End-of-turn tokens recognized after a reply besides the model's EOS: Llama 3, ChatML (Qwen),
    /// Gemma, SentencePiece EOS, Phi-3, GPT-2-style end of text, Llama 3.1's end of message.</summary>
    public static readonly IReadOnlyList<string> EndOfTurnTokens =
        ["<|eot_id|>", "<|im_end|>", "<end_of_turn>", "</s>", "<|end|>", "<|endoftext|>", "<|eom_id|>", "<eos>"];

    private readonly JinjaTemplate _template;
    private readonly string[] _endOfTurn;

    public JinjaChatTemplate(JinjaTemplate template, string? bosToken, string? eosToken)
    {
        _template = template;
        BosToken = bosToken;
        EosToken = eosToken;
        _endOfTurn = (eosToken is { Length: > 0 } ? EndOfTurnTokens.Prepend(eosToken) : EndOfTurnTokens).Distinct().ToArray();
    }

    /// <summary>Parses <paramref name="text"/> (errors name <paramref name="sourceName"/>, line and column).</summary>
    public static JinjaChatTemplate Parse(string text, string sourceName, string? bosToken, string? eosToken) =>
        new(JinjaTemplate.Parse(text, sourceName), bosToken, eosToken);

    /// <summary>A model's template as <see cref="ChatTemplateSource"/> found it.</summary>
    public static JinjaChatTemplate From(ChatTemplateText t) => Parse(t.Text, t.SourceName, t.BosToken, t.EosToken);

    /// <summary>The template of the model (and tokenizer) at these paths, or null when it has none.</summary>
    public static JinjaChatTemplate? ForModel(string? modelPath, string? tokenizerPath) =>
        ChatTemplateSource.Find(modelPath, tokenizerPath) is { } t ? From(t) : null;

    public override string Name => TemplateName;
    /// <summary>Where the template came from (chat_template.jinja, tokenizer_config.json, a GGUF file).</summary>
    public string SourceName => _template.Name;
    public string? BosToken { get; }
    public string? EosToken { get; }

    protected override void RenderConversation(ConversationSample c, List<TemplateSegment> output)
    {
        var messages = new List<object?>();
        var assistant = new List<bool>();
        void Add(string role, string content)
        {
            int owner = messages.Count;
            messages.Add(Message(role, MarkedString.Owned(content, owner)));
            assistant.Add(role == "assistant");
        }
        if (c.System is not null) Add("system", c.System);
        for (int i = 0; i < c.Turns.Count; i++)
            Add(c.Turns[i].Role == Role.User ? "user" : "assistant", c.Turns[i].Role == Role.User ? UserText(c, i) : c.Turns[i].Text);

        RenderedText r;
        try
        {
            r = RenderMessages(messages, generationPrompt: false);
        }
        catch (EngineException e)
        {
            throw new EngineException($"sample {c.Index}: {e.Message}");
        }
        Split(r, LearnedRanges(r, assistant, messages), output);
    }

    /// <summary>The prompt for generation (<c>add_generation_prompt=True</c>): an optional system message and one user
    /// message, as segments whose template-written parts parse special tokens; nothing is learned.</summary>
    public IReadOnlyList<TemplateSegment> RenderGenerationPrompt(string? system, string user)
    {
        var messages = new List<object?>();
        if (system is not null) messages.Add(Message("system", MarkedString.Owned(system, 0)));
        messages.Add(Message("user", MarkedString.Owned(user, messages.Count)));
        var r = RenderMessages(messages, generationPrompt: true);
        var output = new List<TemplateSegment>();
        Split(r, [], output);
        return output;
    }

    /// <summary>The plain rendering of (role, content) messages, as <c>apply_chat_template(tokenize=False)</c>.</summary>
    public string RenderText(IEnumerable<(string Role, string Content)> messages, bool addGenerationPrompt) =>
        RenderMessages(messages.Select(m => (object?)Message(m.Role, m.Content)).ToList(),
            addGenerationPrompt).Text;

    /// <summary>The end-of-turn token texts recognized after a reply: the model's EOS, then <see cref="EndOfTurnTokens"/>.</summary>
    public IReadOnlyList<string> EndOfTurnTexts => _endOfTurn;

    /// <summary>Ids of the end-of-turn tokens this template's model may end a reply with (its EOS and the known
    /// end-of-turn tokens present in <paramref name="tokenizer"/>'s vocabulary), for stopping generation.</summary>
    public IEnumerable<int> EndOfTurnIds(Tokenizers.ITokenizer tokenizer) =>
        _endOfTurn.Select(tokenizer.PieceToId).Where(id => id >= 0);

    /// <summary>A message as the template sees it: a mapping with "role" and "content".</summary>
    private static Dictionary<string, object?> Message(string role, object content) => new() { ["role"] = role, ["content"] = content };

    private RenderedText RenderMessages(List<object?> messages, bool generationPrompt) => _template.Render(new Dictionary<string, object?>
    {
        ["messages"] = messages, ["bos_token"] = BosToken ?? "", ["eos_token"] = EosToken ?? "",
        ["add_generation_prompt"] = generationPrompt, ["tools"] = null, ["documents"] = null,
    });

    /// <summary>Where the model's own output starts for message <paramref name="owner"/>: the end of the rendering of
    /// the messages before it with the generation prompt, when that is a prefix of <paramref name="full"/> ending at or
    /// before <paramref name="contentStart"/> with no content in between; else <paramref name="contentStart"/>.</summary>
    private int GenerationStart(RenderedText full, List<object?> messages, int owner, int contentStart)
    {
        string prefix;
        try { prefix = RenderMessages(messages.GetRange(0, owner), generationPrompt: true).Text; }
        catch (EngineException) { return contentStart; } // e.g. a template that refuses a conversation ending with a user turn
        if (prefix.Length > contentStart || string.CompareOrdinal(full.Text, 0, prefix, 0, prefix.Length) != 0) return contentStart;
        if (full.Marks.Any(m => m.End > prefix.Length && m.Start < contentStart)) return contentStart;
        return prefix.Length;
    }

    /// <summary>The learned character ranges of a rendering (see the class summary).</summary>
    private List<(int Start, int End)> LearnedRanges(RenderedText r, List<bool> assistant, List<object?> messages)
    {
        var ranges = new List<(int Start, int End)>();
        var marks = r.Marks;
        for (int k = 0; k < marks.Count; k++)
        {
            int owner = marks[k].Owner;
            if (!assistant[owner]) continue;
            int start = marks[k].Start, end = marks[k].End;
            // Later marks of the same message with no other message's content in between join the range.
            while (k + 1 < marks.Count && marks[k + 1].Owner == owner) end = marks[++k].End;
            int eot = EndOfTurnAfter(r.Text, end, k + 1 < marks.Count ? marks[k + 1].Start : r.Text.Length);
            ranges.Add((GenerationStart(r, messages, owner, start), eot >= 0 ? eot : end));
        }
        return ranges;
    }

    /// <summary>The end of the first end-of-turn token after optional whitespace in template text [from, limit),
    /// or -1.</summary>
    private int EndOfTurnAfter(string text, int from, int limit)
    {
        int i = from;
        while (i < limit && char.IsWhiteSpace(text[i])) i++;
        foreach (var t in _endOfTurn)
            if (i + t.Length <= limit && string.CompareOrdinal(text, i, t, 0, t.Length) == 0) return i + t.Length;
        return -1;
    }

    /// <summary>Cuts the text at every mark and learned-range boundary into segments.</summary>
    private static void Split(RenderedText r, List<(int Start, int End)> learned, List<TemplateSegment> output)
    {
        var cuts = new SortedSet<int> { 0, r.Text.Length };
        foreach (var m in r.Marks) { cuts.Add(m.Start); cuts.Add(m.End); }
        foreach (var (s, e) in learned) { cuts.Add(s); cuts.Add(e); }
        var points = cuts.ToArray();
        for (int p = 0; p + 1 < points.Length; p++)
        {
            int a = points[p], b = points[p + 1];
            if (a == b) continue;
            bool content = r.Marks.Any(m => a >= m.Start && a < m.End);
            bool isLearned = learned.Any(l => a >= l.Start && a < l.End);
            var text = r.Text[a..b];
            output.Add(content ? new TemplateSegment(SegmentKind.Text, text, isLearned) : TemplateSegment.Markup(text, isLearned));
        }
    }
}
