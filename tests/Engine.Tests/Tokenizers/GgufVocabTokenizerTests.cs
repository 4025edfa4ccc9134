using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class GgufVocabTokenizerTests
{
    private static readonly string[] Tokens = ["<unk>", "<s>", "</s>", "▁", "a", "▁a"];
    private static readonly float[] Scores = [0, 0, 0, -2, -1, 0];
    private static readonly int[] Types = [2, 3, 3, 1, 1, 1];

    [Fact]
    public void BuildsFromArrays()
    {
        var t = GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, Types, bosId: 1, eosId: 2, unkId: 0);
        Assert.Equal(6, t.VocabSize);
        Assert.Equal([5, 5, 3], t.Encode("a a "));
        Assert.Equal(TokenKind.Control, t.Kind(1));
        Assert.False(t.ByteFallback);
        var noPrefix = GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, Types, 1, 2, 0, addSpacePrefix: false);
        Assert.Equal([4, 5], noPrefix.Encode("a a"));
    }

    [Fact]
    public void MismatchedArrays_NameTheKeys()
    {
        var e = Assert.Throws<FileFormatException>(() => GgufVocabTokenizer.Create("m.gguf", Tokens, Scores[..5], Types, 1, 2));
        Assert.Equal("m.gguf: tokenizer.ggml.scores: has 5 entries, tokenizer.ggml.tokens has 6", e.Message);
        e = Assert.Throws<FileFormatException>(() => GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, Types[..4], 1, 2));
        Assert.Contains("tokenizer.ggml.token_type", e.Message);
    }

    [Fact]
    public void BadValues_AreReported()
    {
        int[] types = [2, 3, 3, 1, 7, 1];
        Assert.Contains("tokenizer.ggml.token_type[4]: 7",
            Assert.Throws<FileFormatException>(() => GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, types, 1, 2)).Message);
        Assert.Contains("bos id: 6 is outside",
            Assert.Throws<FileFormatException>(() => GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, Types, 6, 2)).Message);
        string[] badByte = ["<unk>", "<s>", "</s>", "<0xZZ>", "a", "▁a"];
        Assert.Contains("<0xZZ>",
            Assert.Throws<FileFormatException>(() => GgufVocabTokenizer.Create("m.gguf", badByte, Scores, [2, 3, 3, 6, 1, 1], 1, 2)).Message);
    }

    [Fact]
    public void UndefinedType0_IsReadAsNormal()
    {
        var t = GgufVocabTokenizer.Create("m.gguf", Tokens, Scores, [2, 3, 3, 0, 0, 0], 1, 2);
        Assert.Equal(TokenKind.Normal, t.Kind(5));
        Assert.Equal([5], t.Encode("a"));
    }

    [Fact]
    public void Llama2Arrays_HaveTheModelsVocabulary()
    {
        var g = TokenizerAssets.Llama2Gguf;
        Assert.True(g.ByteFallback);
        Assert.Equal((32000, 0, 1, 2, -1), (g.VocabSize, g.UnkId, g.BosId, g.EosId, g.PadId));
        Assert.Equal("▁Hello", g.IdToPiece(15043));
    }
}
