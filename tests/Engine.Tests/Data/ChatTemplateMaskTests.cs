using Engine.Data;
using Engine.Tests.Support;
using Engine.Tests.Templating;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>Chat data rendered with a model's own (Jinja) template: which tokens are learned, special tokens parsed
/// only in template text, and never a double BOS. Expectations are hand-derived from the template's text (pieces of
/// <see cref="WordTokenizer"/>: one per word, "▁" for a preceding space, &lt;0x0A&gt; per newline, each part between
/// special tokens with its own dummy prefix, so a part starting with a newline begins with a lone "▁"), or from Meta's own Llama-2 chat encoding for the real vocabulary.</summary>
public class ChatTemplateMaskTests
{
    private static readonly string[] Llama3Specials = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
    private static readonly string[] ChatMlSpecials = ["<|im_start|>"];

    private static JinjaChatTemplate Fixture(string name, string? bos, string? eos) =>
        JinjaChatTemplate.Parse(TemplateFixtures.Text(name), name + ".jinja", bos, eos);

    /// <summary>"piece" per token, learned ones in [brackets].</summary>
    private static string Show(EncodedSample e, ITokenizer tok) => DataTestUtil.Show(e, tok);

    [Fact]
    public void Llama_3_template_learns_the_reply_and_its_eot_and_parses_headers_as_special_tokens()
    {
        var tok = new WordTokenizer(bos: "<|begin_of_text|>", eos: "<|eot_id|>", specials: Llama3Specials);
        var tpl = Fixture("llama3_1", "<|begin_of_text|>", "<|eot_id|>");
        var c = DataTestUtil.Conversation("Be brief.", "Hi <|eot_id|>", " Hello there ", "Bye", "Bye!");
        var e = new SampleEncoder(tok, tpl, 512).Encode(c)!;
        // The template writes <|begin_of_text|> itself: no second BOS. The literal "<|eot_id|>" in the user's
        // message stays a word; the trimmed replies and the <|eot_id|> after each are learned.
        Assert.Equal(
            "<|begin_of_text|> <|start_header_id|> ▁system <|end_header_id|> ▁ <0x0A> <0x0A> Be ▁brief. <|eot_id|> "
            + "<|start_header_id|> ▁user <|end_header_id|> ▁ <0x0A> <0x0A> Hi ▁<|eot_id|> <|eot_id|> "
            + "<|start_header_id|> ▁assistant <|end_header_id|> ▁ <0x0A> <0x0A> [Hello] [▁there] [<|eot_id|>] "
            + "<|start_header_id|> ▁user <|end_header_id|> ▁ <0x0A> <0x0A> Bye <|eot_id|> "
            + "<|start_header_id|> ▁assistant <|end_header_id|> ▁ <0x0A> <0x0A> [Bye!] [<|eot_id|>]",
            Show(e, tok));
        Assert.Equal(1, e.InputIds.Count(id => id == tok.BosId));
        int literal = e.InputIds[Array.FindIndex(e.InputIds, id => tok.IdToPiece(id) == "▁<|eot_id|>")];
        Assert.NotEqual(tok.PieceToId("<|eot_id|>"), literal);
    }

    [Fact]
    public void Qwen_style_vocabulary_without_bos_gets_none_and_learns_im_end()
    {
        var tok = new WordTokenizer(bos: "<|endoftext|>", eos: "<|im_end|>", specials: ChatMlSpecials, hasBos: false);
        var tpl = Fixture("qwen2_5", null, "<|im_end|>");
        var e = new SampleEncoder(tok, tpl, 512).Encode(DataTestUtil.Conversation(null, "Hi", "Hello"))!;
        Assert.Equal(
            "<|im_start|> ▁system <0x0A> You ▁are ▁Qwen, ▁created ▁by ▁Alibaba ▁Cloud. ▁You ▁are ▁a ▁helpful ▁assistant. <|im_end|> ▁ <0x0A> "
            + "<|im_start|> ▁user <0x0A> Hi <|im_end|> ▁ <0x0A> <|im_start|> ▁assistant <0x0A> [Hello] [<|im_end|>] ▁ <0x0A>",
            Show(e, tok));
    }

    [Fact]
    public void Template_without_bos_text_gets_the_tokenizers_bos_once()
    {
        var tok = new WordTokenizer(specials: ["<|user|>", "<|assistant|>"]);
        var tpl = Fixture("tinyllama_zephyr", "<s>", "</s>");
        var e = new SampleEncoder(tok, tpl, 512).Encode(DataTestUtil.Conversation(null, "Hi", "Yo"))!;
        Assert.Equal("<s> <|user|> ▁ <0x0A> Hi </s> ▁ <0x0A> <|assistant|> ▁ <0x0A> [Yo] [</s>] ▁ <0x0A>", Show(e, tok));
    }

    [Fact]
    public void Qwen_3_learns_the_think_block_reasoning_and_answer_after_the_generation_prompt()
    {
        var tok = new WordTokenizer(bos: "<|endoftext|>", eos: "<|im_end|>", specials: ChatMlSpecials, hasBos: false);
        var tpl = JinjaChatTemplate.Parse(TemplateFixtures.Text("qwen3"), "qwen3", null, "<|im_end|>");
        var e = new SampleEncoder(tok, tpl, 512).Encode(DataTestUtil.Conversation(null, "Q?", "<think>\nwhy\n</think>\n\nA."))!;
        Assert.Equal(
            "<|im_start|> ▁user <0x0A> Q? <|im_end|> ▁ <0x0A> <|im_start|> ▁assistant <0x0A> [<think>] [<0x0A>] [why] [<0x0A>] [</think>] [<0x0A>] [<0x0A>] [A.] [<|im_end|>] ▁ <0x0A>",
            Show(e, tok));
    }

    [Fact]
    public void Qwen_3_earlier_turns_drop_reasoning_and_the_last_turn_learns_the_empty_think_block()
    {
        var tok = new WordTokenizer(bos: "<|endoftext|>", eos: "<|im_end|>", specials: ChatMlSpecials, hasBos: false);
        var tpl = JinjaChatTemplate.Parse(TemplateFixtures.Text("qwen3"), "qwen3", null, "<|im_end|>");
        var e = new SampleEncoder(tok, tpl, 512).Encode(DataTestUtil.Conversation(null, "Q?", "<think>\nx\n</think>\n\nYes.", "R?", "No."))!;
        // Turn 1 comes before the last user message: the template drops its reasoning. Turn 2 is after it: the
        // template writes an empty think block, which is what the model produces after "<|im_start|>assistant\n".
        Assert.Equal(
            "<|im_start|> ▁user <0x0A> Q? <|im_end|> ▁ <0x0A> <|im_start|> ▁assistant <0x0A> [Yes.] [<|im_end|>] ▁ <0x0A> "
            + "<|im_start|> ▁user <0x0A> R? <|im_end|> ▁ <0x0A> <|im_start|> ▁assistant <0x0A> [<think>] [<0x0A>] [<0x0A>] [</think>] [<0x0A>] [<0x0A>] [No.] [<|im_end|>] ▁ <0x0A>",
            Show(e, tok));
    }

    [Fact]
    public void Train_on_inputs_learns_every_token_but_the_first()
    {
        var tok = new WordTokenizer(bos: "<|begin_of_text|>", eos: "<|eot_id|>", specials: Llama3Specials);
        var e = new SampleEncoder(tok, Fixture("llama3_1", "<|begin_of_text|>", "<|eot_id|>"), 512, trainOnInputs: true)
            .Encode(DataTestUtil.Conversation(null, "Hi", "Yo"))!;
        Assert.Equal(e.Length - 1, e.LearnedCount);
        Assert.Equal(EncodedSample.IgnoreIndex, e.Labels[0]);
    }

    [Fact]
    public void Template_errors_name_the_sample_and_the_template_position()
    {
        var tok = new WordTokenizer();
        var ex = Assert.Throws<EngineException>(() =>
            new SampleEncoder(tok, Fixture("gemma2", "<bos>", "<eos>"), 512).Encode(DataTestUtil.Conversation("sys", "Hi", "Yo")));
        Assert.Equal("sample 0: chat template gemma2.jinja:1:74: raise_exception: System role not supported", ex.Message);
    }

    /// <summary>Meta's llama/generation.py chat_completion encodes each exchange as
    /// <c>[BOS] + encode(f"[INST] {user.strip()} [/INST] {answer.strip()} ") + [EOS]</c>, the system prompt wrapped in
    /// &lt;&lt;SYS&gt;&gt; inside the first user message; the learned part is what follows the encoded
    /// "[INST] ... [/INST]" prefix, plus EOS. HF's Llama-2 chat template must give exactly those ids and labels.</summary>
    [Fact]
    public void Llama_2_chat_template_with_the_real_vocabulary_matches_Metas_encoding()
    {
        var tok = SentencePieceTokenizer.Load(SharedData.Require("llama2-tokenizer/tokenizer.model"));
        var tpl = Fixture("llama2_chat", "<s>", "</s>");
        var c = DataTestUtil.Conversation("Answer in one word.", "Capital of France?", "Paris.", "And of Italy?  ", "Rome, I think.");
        var e = new SampleEncoder(tok, tpl, 4096).Encode(c)!;

        var ids = new List<int>();
        var labels = new List<int>();
        void Exchange(string user, string answer)
        {
            var prefix = tok.Encode($"[INST] {user.Trim()} [/INST]");
            var full = tok.Encode($"[INST] {user.Trim()} [/INST] {answer.Trim()} ");
            Assert.Equal(prefix, full[..prefix.Length]); // the prefix tokenizes the same inside the exchange
            ids.Add(tok.BosId); labels.Add(-100);
            for (int i = 0; i < full.Length; i++) { ids.Add(full[i]); labels.Add(i < prefix.Length ? -100 : full[i]); }
            ids.Add(tok.EosId); labels.Add(tok.EosId);
        }
        Exchange("<<SYS>>\nAnswer in one word.\n<</SYS>>\n\nCapital of France?", "Paris.");
        Exchange("And of Italy?  ", "Rome, I think.");
        Assert.Equal(ids, e.InputIds);
        Assert.Equal(labels, e.Labels);
        // The built-in llama-2 template (Meta's procedure written out in C#) agrees token for token.
        var builtin = new SampleEncoder(tok, new Llama2Template(), 4096).Encode(c)!;
        Assert.Equal(builtin.InputIds, e.InputIds);
        Assert.Equal(builtin.Labels, e.Labels);
    }

    [Fact]
    public void Mistral_v0_1_reply_glued_to_the_inst_tag_is_learned_from_the_first_reply_character()
    {
        var tok = SentencePieceTokenizer.Load(SharedData.Require("llama2-tokenizer/tokenizer.model"));
        var e = new SampleEncoder(tok, Fixture("mistral_v0_1", "<s>", "</s>"), 4096).Encode(DataTestUtil.Conversation(null, "Hi", "Hello"))!;
        // "<s>[INST] Hi [/INST]Hello</s>": one BOS (written by the template), the text between the special tokens
        // encoded as one SentencePiece chunk; the tokens overlapping "Hello" and the closing </s> are learned.
        var chunk = tok.EncodeWithSpans("[INST] Hi [/INST]Hello");
        int replyStart = "[INST] Hi [/INST]".Length;
        var expectedIds = new List<int> { tok.BosId };
        expectedIds.AddRange(chunk.Select(t => t.Id));
        expectedIds.Add(tok.EosId);
        Assert.Equal(expectedIds, e.InputIds);
        for (int i = 0; i < chunk.Length; i++)
        {
            bool learned = chunk[i].Start + Math.Max(chunk[i].Length, 1) > replyStart;
            Assert.Equal(learned ? chunk[i].Id : -100, e.Labels[i + 1]);
        }
        Assert.Equal(tok.EosId, e.Labels[^1]);
        Assert.Equal(1, e.InputIds.Count(id => id == tok.BosId));
    }
}
