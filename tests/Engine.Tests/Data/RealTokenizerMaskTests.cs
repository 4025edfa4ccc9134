using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

/// <summary>Masks with the real Llama-2 vocabulary (engine's own SentencePiece tokenizer).</summary>
public class RealTokenizerMaskTests
{
    private static readonly Lazy<Engine.Tokenizers.SentencePieceTokenizer> Llama = new(() =>
        Engine.Tokenizers.SentencePieceTokenizer.Load(SharedData.Require("llama2-tokenizer/tokenizer.model")));

    [Fact]
    public void Vicuna_mask_with_the_Llama2_vocabulary()
    {
        var tok = Llama.Value;
        var c = DataTestUtil.Conversation("Hi.", "Who are you?", "I am Vicuna.", "Bye", "Bye!");
        var e = new SampleEncoder(tok, new VicunaTemplate(), 512).Encode(c)!;
        Assert.Equal(
            "<s> ▁Hi . ▁US ER : ▁Who ▁are ▁you ? ▁A SS IST ANT : [▁I] [▁am] [▁Vic] [una] [.] [</s>] ▁US ER : ▁By e ▁A SS IST ANT : [▁By] [e] [!] [</s>]",
            DataTestUtil.Show(e, tok));
    }

    [Theory]
    [InlineData("datasets/fastchat_dummy_conversation.json")]
    [InlineData("datasets/fastchat_dummy_conversation_with_system.json")]
    public void Labels_equal_FastChat_preprocess_with_the_Llama2_vocabulary(string file)
    {
        var data = DataReader.Read(SharedData.Require(file));
        FastChatParityTests.AssertParity(data, Llama.Value);
    }
}
