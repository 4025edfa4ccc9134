namespace Engine.Data;

/// <summary>Plain causal-LM text: the text then EOS, all learned. A conversation renders as its system prompt and turns
/// joined by blank lines, the assistant turns learned, with a learned EOS after a final assistant turn.</summary>
internal sealed class RawTemplate : ChatTemplate
{
    public const string TemplateName = "raw";

    public override string Name => TemplateName;

    protected override void RenderText(TextSample text, List<TemplateSegment> output)
    {
        output.Add(TemplateSegment.Reply(text.Text));
        output.Add(TemplateSegment.Eos(learned: true));
    }

    protected override void RenderConversation(ConversationSample c, List<TemplateSegment> output)
    {
        string pending = string.IsNullOrEmpty(c.System) ? "" : c.System + "\n\n";
        for (int i = 0; i < c.Turns.Count; i++)
        {
            bool last = i == c.Turns.Count - 1;
            if (c.Turns[i].Role == Role.User)
            {
                pending += UserText(c, i) + (last ? "" : "\n\n");
                continue;
            }
            if (pending.Length > 0) output.Add(TemplateSegment.Prompt(pending));
            output.Add(TemplateSegment.Reply(c.Turns[i].Text));
            pending = last ? "" : "\n\n";
        }
        if (pending.Length > 0) output.Add(TemplateSegment.Prompt(pending));
        if (c.Turns[^1].Role == Role.Assistant) output.Add(TemplateSegment.Eos(learned: true));
    }
}
