namespace Engine.Data;

/// <summary>FastChat's vicuna_v1.1 (SeparatorStyle.ADD_COLON_TWO, sep " ", sep2 "&lt;/s&gt;"):
/// <c>system + " " + "USER: m1 ASSISTANT: r1&lt;/s&gt;USER: m2 ASSISTANT: r2&lt;/s&gt;"</c>. As in FastChat, an empty
/// message renders as "ROLE:" with no separator. The reply and its closing EOS are learned.</summary>
internal sealed class VicunaTemplate : ChatTemplate
{
    public const string TemplateName = "vicuna_v1.1";
    public const string DefaultSystem =
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

    public override string Name => TemplateName;

    protected override void RenderConversation(ConversationSample c, List<TemplateSegment> output)
    {
        var prompt = new System.Text.StringBuilder();
        prompt.Append(c.System ?? DefaultSystem).Append(' ');
        for (int i = 0; i < c.Turns.Count; i++)
        {
            bool user = c.Turns[i].Role == Role.User;
            var message = user ? UserText(c, i) : c.Turns[i].Text;
            var role = user ? "USER" : "ASSISTANT";
            if (message.Length == 0) { prompt.Append(role).Append(':'); continue; }
            if (user) { prompt.Append(role).Append(": ").Append(message).Append(' '); continue; }
            prompt.Append(role).Append(": ");
            output.Add(TemplateSegment.Prompt(prompt.ToString()));
            prompt.Clear();
            output.Add(TemplateSegment.Reply(message));
            output.Add(TemplateSegment.Eos(learned: true));
        }
        if (prompt.Length > 0) output.Add(TemplateSegment.Prompt(prompt.ToString()));
    }
}
