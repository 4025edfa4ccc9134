using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class DecodeTests
{
    private static VocabularyTokenizer Llama => TokenizerAssets.Llama2Model;

    [Fact]
    public void ControlTokens_AreSkipped_AndTheDummyPrefixSpaceRemoved()
    {
        Assert.Equal("Hello world", Llama.Decode([1, 15043, 3186, 2]));
        Assert.Equal("Hello world", Llama.Decode([15043, 3186]));
        Assert.Equal("", Llama.Decode([]));
        Assert.Equal("", Llama.Decode([1, 2]));
    }

    [Fact]
    public void OnlyTheFirstTextTokenLosesItsLeadingSpace()
    {
        // "▁", "▁Hello": the first "▁" is the dummy prefix, the second is the input's space.
        Assert.Equal(" Hello", Llama.Decode([29871, 15043]));
        Assert.Equal("Hello Hello", Llama.Decode([1, 15043, 1, 15043]));
        // A leading byte token <0x20> is a real space, not the dummy prefix.
        Assert.Equal("  Hello", Llama.Decode([3 + 0x20, 15043]));
    }

    [Fact]
    public void BytePieces_JoinIntoUtf8_AndInvalidSequencesBecomeReplacementChars()
    {
        // <0xF0><0x9F><0x98><0x81> = 😁; id = byte + 3.
        Assert.Equal("😁", Llama.Decode([243, 162, 155, 132]));
        Assert.Equal("a\uFFFD", Llama.Decode([29874, 3 + 0xF0, 3 + 0x9F]));
        Assert.Equal("\uFFFDa", Llama.Decode([3 + 0xFF, 29874]));
        Assert.Equal("\uFFFD\uFFFD", Llama.Decode([3 + 0x80, 3 + 0x80]));
    }

    [Fact]
    public void UnknownToken_DecodesToItsPiece()
    {
        Assert.Equal("<unk>", Llama.Decode([0]));
    }

    [Fact]
    public void IdsOutsideTheVocabulary_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Llama.Decode([32000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Llama.Decode([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Llama.IdToPiece(32000));
    }

    [Fact]
    public void PieceLookups()
    {
        Assert.Equal("▁Hello", Llama.IdToPiece(15043));
        Assert.Equal(15043, Llama.PieceToId("▁Hello"));
        Assert.Equal(1, Llama.PieceToId("<s>"));
        Assert.Equal(-1, Llama.PieceToId("no such piece"));
        Assert.Equal(-14784f, Llama.Score(15043));
        Assert.Equal(TokenKind.Byte, Llama.Kind(13));
        Assert.Equal("<0x0A>", Llama.IdToPiece(13));
    }
}
