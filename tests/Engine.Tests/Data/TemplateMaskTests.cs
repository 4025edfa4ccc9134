using Engine.Data;
using static Engine.Tests.Data.DataTestUtil;

namespace Engine.Tests.Data;

/// <summary>Rendered text and label masks, derived by hand from each format's definition, with the one-token-per-word
/// <see cref="WordTokenizer"/>.</summary>
public class TemplateMaskTests
{
    [Fact]
    public void Vicuna_renders_exactly_as_FastChat_with_the_default_system_prompt()
    {
        var c = Conversation(null, "Who are you?", "I am Vicuna.", "Bye", "Goodbye!");
        var text = TemplateSegment.ToText(new VicunaTemplate().Render(c));
        Assert.Equal(
            "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, " +
            "and polite answers to the user's questions. USER: Who are you? ASSISTANT: I am Vicuna.</s>USER: Bye ASSISTANT: Goodbye!</s>",
            text);
    }

    [Fact]
    public void Vicuna_learns_replies_and_their_eos_and_encodes_each_chunk_with_a_dummy_prefix()
    {
        var tok = new WordTokenizer();
        var c = Conversation("Be brief.", "Who are you?", "I am Vicuna.", "Bye", "Goodbye!");
        var e = new SampleEncoder(tok, new VicunaTemplate(), 512).Encode(c)!;
        // "</s>" then "USER:" starts a new chunk: "▁USER:" gets the dummy prefix, as HF's legacy Llama tokenizer does.
        Assert.Equal(
            "<s> ▁Be ▁brief. ▁USER: ▁Who ▁are ▁you? ▁ASSISTANT: [▁I] [▁am] [▁Vicuna.] [</s>] ▁USER: ▁Bye ▁ASSISTANT: [▁Goodbye!] [</s>]",
            Show(e, tok));
        int I = -100;
        var ids = e.InputIds;
        Assert.Equal(new[] { I, I, I, I, I, I, I, I, ids[8], ids[9], ids[10], 2, I, I, I, ids[15], 2 }, e.Labels);
        Assert.Equal(1, ids[0]);
        Assert.Equal(6, e.LearnedCount);
    }

    [Fact]
    public void Vicuna_renders_an_empty_message_as_role_colon_like_FastChat()
    {
        var c = Conversation("S", "", "Hi");
        Assert.Equal("S USER:ASSISTANT: Hi</s>", TemplateSegment.ToText(new VicunaTemplate().Render(c)));
    }

    [Fact]
    public void Llama2_renders_Meta_format_with_system_block_and_bos_eos_as_ids()
    {
        var tok = new WordTokenizer();
        var c = Conversation("Be brief.", "Hi", "Hello there", "Bye", " Goodbye\n");
        var segments = new Llama2Template().Render(c);
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello there </s><s>[INST] Bye [/INST] Goodbye </s>",
            TemplateSegment.ToText(segments));
        var e = new SampleEncoder(tok, new Llama2Template(), 512).Encode(c)!;
        // The template's own BOS comes first (no second one is added); the reply's trailing space before EOS is learned.
        Assert.Equal(
            "<s> ▁[INST] ▁<<SYS>> <0x0A> Be ▁brief. <0x0A> <</SYS>> <0x0A> <0x0A> Hi ▁[/INST] [▁Hello] [▁there] [▁] [</s>] " +
            "<s> ▁[INST] ▁Bye ▁[/INST] [▁Goodbye] [▁] [</s>]",
            Show(e, tok));
    }

    [Fact]
    public void Llama2_without_system_and_with_a_trailing_user_turn()
    {
        var c = new ConversationSample(0, null, null, new[] { new Turn(Role.User, "a"), new Turn(Role.Assistant, "b"), new Turn(Role.User, "c") });
        Assert.Equal("<s>[INST] a [/INST] b </s><s>[INST] c [/INST]", TemplateSegment.ToText(new Llama2Template().Render(c)));
    }

    [Fact]
    public void Alpaca_without_input_matches_the_Stanford_prompt()
    {
        var tok = new WordTokenizer();
        var c = new ConversationSample(0, null, null, new[] { new Turn(Role.User, "Add 2 and 3."), new Turn(Role.Assistant, "5") });
        var segments = new AlpacaTemplate().Render(c);
        Assert.Equal("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
                     "### Instruction:\nAdd 2 and 3.\n\n### Response:\n5</s>", TemplateSegment.ToText(segments));
        var e = new SampleEncoder(tok, new AlpacaTemplate(), 512).Encode(c)!;
        Assert.Equal(
            "<s> ▁Below ▁is ▁an ▁instruction ▁that ▁describes ▁a ▁task. ▁Write ▁a ▁response ▁that ▁appropriately ▁completes ▁the " +
            "▁request. <0x0A> <0x0A> ### ▁Instruction: <0x0A> Add ▁2 ▁and ▁3. <0x0A> <0x0A> ### ▁Response: <0x0A> [5] [</s>]",
            Show(e, tok));
    }

    [Fact]
    public void Alpaca_with_input_uses_the_input_prompt()
    {
        var tok = new WordTokenizer();
        var c = new ConversationSample(0, null, null, new[] { new Turn(Role.User, "Sum."), new Turn(Role.Assistant, "It is 5.") }, Context: "2 3");
        var segments = new AlpacaTemplate().Render(c);
        Assert.Equal("Below is an instruction that describes a task, paired with an input that provides further context. Write a response " +
                     "that appropriately completes the request.\n\n### Instruction:\nSum.\n\n### Input:\n2 3\n\n### Response:\nIt is 5.</s>",
            TemplateSegment.ToText(segments));
        var e = new SampleEncoder(tok, new AlpacaTemplate(), 512).Encode(c)!;
        Assert.EndsWith("### ▁Instruction: <0x0A> Sum. <0x0A> <0x0A> ### ▁Input: <0x0A> 2 ▁3 <0x0A> <0x0A> ### ▁Response: <0x0A> [It] [▁is] [▁5.] [</s>]",
            Show(e, tok));
        Assert.Equal(4, e.LearnedCount);
        // Other templates append the input to the first user message.
        Assert.Contains("USER: Sum.\n\n2 3 ASSISTANT: It is 5.</s>", TemplateSegment.ToText(new VicunaTemplate().Render(c)));
    }

    [Fact]
    public void Alpaca_multi_turn_continues_without_repeating_the_preamble()
    {
        var c = Conversation("You add.", "1+1", "2", "2+2", "4");
        Assert.Equal("You add.\n\n### Instruction:\n1+1\n\n### Response:\n2</s>### Instruction:\n2+2\n\n### Response:\n4</s>",
            TemplateSegment.ToText(new AlpacaTemplate().Render(c)));
    }

    [Fact]
    public void Raw_learns_all_text_and_eos()
    {
        var tok = new WordTokenizer();
        var e = new SampleEncoder(tok, new RawTemplate(), 512).Encode(new TextSample(0, null, "Once upon\na time"))!;
        Assert.Equal("<s> [▁Once] [▁upon] [<0x0A>] [a] [▁time] [</s>]", Show(e, tok));
    }

    [Fact]
    public void Raw_conversation_joins_turns_with_blank_lines()
    {
        var tok = new WordTokenizer();
        var e = new SampleEncoder(tok, new RawTemplate(), 512).Encode(Conversation(null, "q", "a b"))!;
        Assert.Equal("<s> ▁q <0x0A> <0x0A> [a] [▁b] [</s>]", Show(e, tok));
    }

    [Fact]
    public void Train_on_inputs_learns_everything_but_the_first_bos()
    {
        var tok = new WordTokenizer();
        var e = new SampleEncoder(tok, new Llama2Template(), 512, trainOnInputs: true).Encode(Conversation(null, "a", "b", "c", "d"))!;
        Assert.Equal("<s> [▁[INST]] [▁a] [▁[/INST]] [▁b] [▁] [</s>] [<s>] [▁[INST]] [▁c] [▁[/INST]] [▁d] [▁] [</s>]", Show(e, tok));
    }

    [Fact]
    public void A_literal_eos_string_in_the_data_stays_text()
    {
        var tok = new WordTokenizer();
        var e = new SampleEncoder(tok, new VicunaTemplate(), 512).Encode(Conversation("S", "say </s>", "ok"))!;
        Assert.Equal("<s> ▁S ▁USER: ▁say ▁</s> ▁ASSISTANT: [▁ok] [</s>]", Show(e, tok));
        Assert.NotEqual(tok.EosId, e.InputIds[4]);
    }

    [Fact]
    public void Truncation_keeps_bos_and_cuts_labels_alike_and_drops_samples_with_nothing_learned()
    {
        var tok = new WordTokenizer();
        var c = Conversation("S", "one two three", "four five");
        var enc = new SampleEncoder(tok, new VicunaTemplate(), 8);
        var e = enc.Encode(c)!;
        Assert.Equal("<s> ▁S ▁USER: ▁one ▁two ▁three ▁ASSISTANT: [▁four]", Show(e, tok));
        Assert.True(e.Truncated);
        Assert.Null(new SampleEncoder(tok, new VicunaTemplate(), 7).Encode(c));

        var (kept, stats) = new SampleEncoder(tok, new VicunaTemplate(), 7).EncodeAll(new Sample[] { c, Conversation("S", "x", "y") });
        Assert.Single(kept);
        Assert.Equal(1, stats.DroppedNoLearnedTokens);
        Assert.Equal(2, stats.Samples);
        Assert.Equal("<s> ▁S ▁USER: ▁x ▁ASSISTANT: [▁y] [</s>]", Show(kept[0], tok));
    }

    [Fact]
    public void A_lone_dummy_prefix_token_before_a_reply_belongs_to_the_reply()
    {
        // The reply starts the chunk with "\n": the dummy-prefix "▁" has a zero-length span at the reply's first character.
        var tok = new WordTokenizer();
        var e = new SampleEncoder(tok, new RawTemplate(), 512).Encode(new TextSample(0, null, "\nx"))!;
        Assert.Equal("<s> [▁] [<0x0A>] [x] [</s>]", Show(e, tok));
    }

    [Fact]
    public void Plain_text_needs_the_raw_template()
    {
        var ex = Assert.Throws<EngineException>(() => new VicunaTemplate().Render(new TextSample(3, null, "x")));
        Assert.Contains("sample 3", ex.Message);
        Assert.Contains("--template raw", ex.Message);
    }

    [Fact]
    public void Template_names_and_defaults()
    {
        Assert.Equal(new[] { "vicuna_v1.1", "llama-2", "alpaca", "raw", "chat" }, ChatTemplate.Names);
        Assert.IsType<VicunaTemplate>(ChatTemplate.DefaultFor(DataFormat.ShareGpt));
        Assert.IsType<AlpacaTemplate>(ChatTemplate.DefaultFor(DataFormat.Alpaca));
        Assert.IsType<RawTemplate>(ChatTemplate.DefaultFor(DataFormat.Text));
        Assert.IsType<Llama2Template>(ChatTemplate.Get("llama-2"));
        var ex = Assert.Throws<EngineException>(() => ChatTemplate.Get("chatml"));
        Assert.Contains("vicuna_v1.1, llama-2, alpaca, raw, chat", ex.Message);
    }
}
