namespace Engine.Data;

/// <summary>Meta's Llama-2 chat format (llama/generation.py chat_completion): each exchange is
/// <c>BOS "[INST] {user} [/INST] {assistant} " EOS</c>, the system prompt wrapped as
/// <c>"&lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n"</c> in front of the first user message, and the
/// combined user content and the reply stripped of surrounding whitespace, as Meta does. A trailing user turn renders as
/// <c>BOS "[INST] {user} [/INST]"</c>. No default system prompt. The learned part is the reply with its trailing space
/// (Meta encodes "answer " before EOS, so the model must produce that space) and the EOS.</summary>
internal sealed class Llama2Template : ChatTemplate
{
    public const string TemplateName = "llama-2";
    private const string BeginSystem = "<<SYS>>\n", EndSystem = "\n<</SYS>>\n\n";

    public override string Name => TemplateName;

    protected override void RenderConversation(ConversationSample c, List<TemplateSegment> output)
    {
        for (int i = 0; i < c.Turns.Count; i += 2)
        {
            var user = UserText(c, i);
            if (i == 0 && c.System is not null) user = BeginSystem + c.System + EndSystem + user;
            user = user.Trim();
            output.Add(TemplateSegment.Bos);
            if (i + 1 < c.Turns.Count)
            {
                output.Add(TemplateSegment.Prompt($"[INST] {user} [/INST] "));
                output.Add(TemplateSegment.Reply(c.Turns[i + 1].Text.Trim() + " "));
                output.Add(TemplateSegment.Eos(learned: true));
            }
            else
            {
                output.Add(TemplateSegment.Prompt($"[INST] {user} [/INST]"));
            }
        }
    }
}
