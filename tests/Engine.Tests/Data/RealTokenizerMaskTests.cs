using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

/// <summary>Masks with the real Llama-2 vocabulary (through <see cref="LlamaSentencePieceTokenizer"/>).</summary>
public class RealTokenizerMaskTests
{
    private static readonly Lazy<LlamaSentencePieceTokenizer> Llama = new(() =>
        new LlamaSentencePieceTokenizer(SharedData.Require("llama2-tokenizer/tokenizer.model")));

    [Fact]
    public void Adapter_reproduces_llama_cpp_reference_tokenization()
    {
        var inputs = File.ReadAllText(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf.inp")).Split("\n__ggml_vocab_test__\n");
        var outputs = File.ReadAllLines(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf.out"));
        var mismatches = new List<int>();
        for (int i = 0; i < outputs.Length; i++)
        {
            var expected = outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            if (!expected.SequenceEqual(Llama.Value.Encode(inputs[i]))) mismatches.Add(i);
            Llama.Value.EncodeWithSpans(inputs[i]); // throws unless the pieces spell the text back
        }
        // Lines 33 ("!!!!!!") and 45 (runs like "------", "=====", "...") differ: Microsoft.ML.Tokenizers 2.0.1 breaks
        // ties between equal-score merges of repeated characters differently from SentencePiece ("!!!!!!" → 1738 21004
        // 6824 instead of 1738 6824 21004). The FastChat files contain no such runs.
        Assert.Equal(new[] { 33, 45 }, mismatches);
    }

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
