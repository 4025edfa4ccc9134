using System.Text;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class Llama2cTokenizerTests
{
    private static byte[] BinFile(int maxTokenLength, params (float Score, byte[] Bytes)[] tokens)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(maxTokenLength);
        foreach (var (score, bytes) in tokens) { w.Write(score); w.Write(bytes.Length); w.Write(bytes); }
        w.Flush();
        return ms.ToArray();
    }

    private static (float, byte[]) T(string s, float score = 0) => (score, Encoding.UTF8.GetBytes(s));

    private static readonly (float, byte[])[] Small = [T("<unk>"), T("\n<s>\n"), T("\n</s>\n"), T(" "), T("a"), T(" a", 1)];

    [Theory]
    [InlineData("llama2", 32000, 27)]
    [InlineData("tok512", 512, 7)]
    public void Bin_HoldsTheSameVocabularyAsTheModel(string name, int vocabSize, int maxTokenLength)
    {
        var (bin, model) = name == "llama2"
            ? ((VocabularyTokenizer)TokenizerAssets.Llama2Bin, (VocabularyTokenizer)TokenizerAssets.Llama2Model)
            : (TokenizerAssets.Tok512Bin, TokenizerAssets.Tok512Model);
        Assert.Equal(maxTokenLength, ((Llama2cTokenizer)bin).MaxTokenLength);
        Assert.Equal(vocabSize, bin.VocabSize);
        Assert.Equal(vocabSize, model.VocabSize);
        for (int id = 0; id < vocabSize; id++)
        {
            Assert.Equal(model.IdToPiece(id), bin.IdToPiece(id));
            Assert.Equal(model.Score(id), bin.Score(id));
            Assert.Equal(model.Kind(id), bin.Kind(id));
        }
        Assert.Equal((0, 1, 2, -1), (bin.UnkId, bin.BosId, bin.EosId, bin.PadId));
        Assert.Equal((0, 1, 2, -1), (model.UnkId, model.BosId, model.EosId, model.PadId));
        Assert.True(bin.ByteFallback);
    }

    [Fact]
    public void StoredForms_AreMappedBackToSentencePiecePieces()
    {
        var t = Llama2cTokenizer.Parse(BinFile(2, Small), "small.bin", 6);
        Assert.Equal(["<unk>", "<s>", "</s>", "▁", "a", "▁a"], Enumerable.Range(0, 6).Select(t.IdToPiece).ToArray());
        Assert.Equal([TokenKind.Unknown, TokenKind.Control, TokenKind.Control, TokenKind.Normal, TokenKind.Normal, TokenKind.Normal],
            Enumerable.Range(0, 6).Select(t.Kind).ToArray());
        Assert.False(t.ByteFallback);
        Assert.Equal([5, 5, 3], t.Encode("a a "));
        Assert.Equal("a a ", t.Decode([1, 5, 5, 3, 2]));
    }

    [Fact]
    public void FileShorterThanTheModelsVocab_NamesBothSizes()
    {
        var e = Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(BinFile(2, Small), "small.bin", 32000));
        Assert.Equal("small.bin: vocabulary size: file holds 6 tokens but the model's vocab_size is 32000", e.Message);
        e = Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(BinFile(2, Small), "small.bin", 5));
        Assert.Contains("file holds 6 tokens but the model's vocab_size is 5", e.Message);
    }

    [Fact]
    public void RealFile_WithTheWrongVocabSize_Fails()
    {
        var e = Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Load(SharedData.Require(TokenizerAssets.Tok512BinPath), 32000));
        Assert.Contains("file holds 512 tokens but the model's vocab_size is 32000", e.Message);
        Assert.Contains("tok512.bin", e.Message);
    }

    [Fact]
    public void EveryTruncation_IsAFileFormatException()
    {
        var full = BinFile(2, Small);
        for (int n = 0; n < full.Length; n++)
        {
            var e = Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(full.AsSpan(0, n), "cut.bin", 6));
            Assert.StartsWith("cut.bin: ", e.Message);
        }
    }

    [Fact]
    public void BadRecords_AreReported()
    {
        var negative = BinFile(2, T("<unk>"));
        BitConverter.GetBytes(-5).CopyTo(negative, 8);
        Assert.Contains("token 0: byte length -5", Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(negative, "x.bin", null)).Message);

        var badUtf8 = BinFile(2, T("<unk>"), T("<s>"), T("</s>"), (0, [0xC3, 0x28]));
        Assert.Contains("token 3: piece at byte", Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(badUtf8, "x.bin", null)).Message);

        var zeroMax = BinFile(0, Small);
        Assert.Contains("max_token_length", Assert.Throws<FileFormatException>(() => Llama2cTokenizer.Parse(zeroMax, "x.bin", null)).Message);
    }

    [Fact]
    public void WithoutVocabSize_ReadsEveryToken()
    {
        Assert.Equal(512, Llama2cTokenizer.Load(SharedData.Require(TokenizerAssets.Tok512BinPath)).VocabSize);
    }
}
