using Engine.Checkpoints;
using Engine.Data;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>Conversations encoded with the real Llama 3.1 and Qwen 3 tokenizer.json files and their own chat templates
/// (tokenizer_config.json): the ids equal Hugging Face's <c>apply_chat_template(conversation, tokenize=True)</c> (the
/// expected ids were produced by transformers.js 4.3.2 from the same files), exactly one BOS where the tokenizer has one
/// and none for Qwen, and the learned tokens are each assistant reply and its end-of-turn token (for Qwen 3's last turn
/// also the empty think block the template writes there, which the model produces at inference).</summary>
public class RealChatTemplateTests
{
    private static readonly ConversationSample Conversation = DataTestUtil.Conversation(
        "Be brief.", "Hi there", "Hello! How can I help?", "Say 12345.", "12345");

    private static (ITokenizer Tok, EncodedSample Sample) Encode(string folder)
    {
        var dir = Path.GetDirectoryName(SharedData.Require($"hf-tokenizers/{folder}/tokenizer.json"))!;
        var tok = TokenizerLoader.Load(dir);
        var template = JinjaChatTemplate.From(ChatTemplateSource.FromFolder(dir)!);
        return (tok, new SampleEncoder(tok, template, 4096).Encode(Conversation)!);
    }

    private static int[] Learned(EncodedSample e) => e.Labels.Where(l => l != EncodedSample.IgnoreIndex).ToArray();

    [Fact]
    public void Llama31_ids_and_learned_tokens_match_hf()
    {
        var (_, e) = Encode("llama3_1");
        Assert.Equal(new[]
        {
            128000, 128006, 9125, 128007, 271, 3513, 10015, 13, 128009, 128006, 882, 128007, 271, 13347, 1070, 128009,
            128006, 78191, 128007, 271, 9906, 0, 2650, 649, 358, 1520, 30, 128009, 128006, 882, 128007, 271, 46864, 220,
            4513, 1774, 13, 128009, 128006, 78191, 128007, 271, 4513, 1774, 128009,
        }, e.InputIds);
        Assert.Equal(new[] { 9906, 0, 2650, 649, 358, 1520, 30, 128009, 4513, 1774, 128009 }, Learned(e));
    }

    [Fact]
    public void Qwen3_ids_and_learned_tokens_match_hf()
    {
        var (tok, e) = Encode("qwen3");
        Assert.False(tok.AddBos);
        Assert.Equal(new[]
        {
            151644, 8948, 198, 3430, 9814, 13, 151645, 198, 151644, 872, 198, 13048, 1052, 151645, 198, 151644, 77091, 198,
            9707, 0, 2585, 646, 358, 1492, 30, 151645, 198, 151644, 872, 198, 45764, 220, 16, 17, 18, 19, 20, 13, 151645, 198,
            151644, 77091, 198, 151667, 271, 151668, 271, 16, 17, 18, 19, 20, 151645, 198,
        }, e.InputIds);
        Assert.Equal(new[] { 9707, 0, 2585, 646, 358, 1492, 30, 151645, 151667, 271, 151668, 271, 16, 17, 18, 19, 20, 151645 }, Learned(e));
    }
}
