namespace Engine.Data;

/// <summary>The Stanford Alpaca prompt (train.py PROMPT_DICT), with or without the "### Input:" section, followed by the
/// output and EOS (both learned). For a conversation the user turn is the instruction and
/// <see cref="ConversationSample.Context"/> the input. A system prompt, when the sample has one, replaces Alpaca's
/// preamble sentence. Later exchanges of a multi-turn conversation continue after the EOS as
/// <c>"### Instruction:\n{user}\n\n### Response:\n{assistant}" EOS</c> without repeating the preamble.</summary>
internal sealed class AlpacaTemplate : ChatTemplate
{
    public const string TemplateName = "alpaca";
    public const string PreambleWithInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.";
    public const string PreambleNoInput =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

    public override string Name => TemplateName;

    protected override void RenderConversation(ConversationSample c, List<TemplateSegment> output)
    {
        bool hasInput = !string.IsNullOrEmpty(c.Context);
        for (int i = 0; i < c.Turns.Count; i += 2)
        {
            string prompt = $"### Instruction:\n{c.Turns[i].Text}\n\n";
            if (i == 0)
            {
                var preamble = c.System ?? (hasInput ? PreambleWithInput : PreambleNoInput);
                prompt = preamble + "\n\n" + prompt + (hasInput ? $"### Input:\n{c.Context}\n\n" : "");
            }
            output.Add(TemplateSegment.Prompt(prompt + "### Response:\n"));
            if (i + 1 < c.Turns.Count)
            {
                output.Add(TemplateSegment.Reply(c.Turns[i + 1].Text));
                output.Add(TemplateSegment.Eos(learned: true));
            }
        }
    }
}
