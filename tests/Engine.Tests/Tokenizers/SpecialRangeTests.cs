using Engine.Tokenizers;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.Tokenizers;

/// <summary>Special-token parsing inside given ranges only, on the real Llama 2 SentencePiece model (HF's legacy
/// LlamaTokenizer encodes "&lt;s&gt;[INST] Hi [/INST]" with the special text as ids and each part between them with its
/// own dummy prefix).</summary>
public class SpecialRangeTests
{

    [Fact]
    public void ControlTokensAreIdsOnlyInsideTheRanges()
    {
        var tok = TokenizerLoader.Load(SharedData.Require("llama2-tokenizer/tokenizer.model"));
        const string text = "Hi</s>there</s>";
        var none = tok.EncodeWithSpans(text, null).Select(t => t.Id).ToArray();
        Assert.Equal(tok.Encode(text), none);
        Assert.DoesNotContain(tok.EosId, none);

        // Only the second "</s>" (chars 11..15) is template text.
        var spans = tok.EncodeWithSpans(text, [new TextRange(11, 4)]);
        var ids = spans.Select(t => t.Id).ToArray();
        var expected = tok.Encode("Hi</s>there").Append(tok.EosId).ToArray();
        Assert.Equal(expected, ids);
        Assert.Equal(new TokenSpan(tok.EosId, 11, 4), spans[^1]);
        Assert.True(tok.AddBos);
        Assert.False(tok.AddEos);
    }

    [Fact]
    public void TextBetweenSpecialTokensIsEncodedOnItsOwn()
    {
        var tok = TokenizerLoader.Load(SharedData.Require("llama2-tokenizer/tokenizer.model"));
        const string text = "<s>Hello</s>";
        var ids = tok.EncodeWithSpans(text, [new TextRange(0, text.Length)]).Select(t => t.Id).ToArray();
        Assert.Equal(new[] { tok.BosId }.Concat(tok.Encode("Hello")).Append(tok.EosId).ToArray(), ids);
        Assert.Equal(new[] { 1, 15043, 2 }, ids); // "Hello" is ▁Hello = 15043 in Llama 2's vocabulary
    }
}
