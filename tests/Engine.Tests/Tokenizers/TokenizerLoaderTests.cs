using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class TokenizerLoaderTests
{
    [Fact]
    public void PicksTheFormatByFile()
    {
        Assert.IsType<SentencePieceTokenizer>(TokenizerLoader.Load(SharedData.Require(TokenizerAssets.Tok512ModelPath), 512));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(SharedData.Require(TokenizerAssets.Tok512BinPath), 512));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(SharedData.Require(TokenizerAssets.Tok512BinPath)));
    }

    [Fact]
    public void Folder_PrefersTokenizerModel_ThenTokenizerBin()
    {
        using var dir = new TempDir();
        File.Copy(SharedData.Require(TokenizerAssets.Tok512BinPath), dir.File("tokenizer.bin"));
        Assert.IsType<Llama2cTokenizer>(TokenizerLoader.Load(dir.Path, 512));
        File.Copy(SharedData.Require(TokenizerAssets.Tok512ModelPath), dir.File("tokenizer.model"));
        var t = TokenizerLoader.Load(dir.Path, 512);
        Assert.IsType<SentencePieceTokenizer>(t);
        Assert.Equal([403, 407, 261, 378], t.Encode("Once upon a time"));
    }

    [Fact]
    public void VocabSizeMismatch_NamesTheFileAndBothSizes()
    {
        string path = SharedData.Require(TokenizerAssets.Tok512ModelPath);
        var e = Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(path, 32000));
        Assert.Equal($"{path}: vocabulary size: tokenizer has 512 tokens but the model's vocab_size is 32000", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void MissingOrUnsupported_AreClearErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("no such file or folder",
            Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(dir.File("nope.model"))).Message);
        Assert.Contains("none of tokenizer.json, tokenizer.model, tokenizer.bin",
            Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(dir.Path)).Message);
        File.WriteAllText(dir.File("tokenizer.json"), "{}");
        Assert.StartsWith(dir.File("tokenizer.json") + ": model: expected an object",
            Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(dir.Path)).Message);
        File.WriteAllText(dir.File("vocab.txt"), "a");
        Assert.Contains("unknown tokenizer file type",
            Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(dir.File("vocab.txt"))).Message);
        File.WriteAllBytes(dir.File("junk.model"), [1, 2, 3]);
        Assert.StartsWith(dir.File("junk.model") + ": ",
            Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(dir.File("junk.model"))).Message);
    }
}
