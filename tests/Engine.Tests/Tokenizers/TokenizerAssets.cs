using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>The real tokenizers under shared/data, loaded once per test run (each test that uses one first calls
/// <see cref="SharedData.Require"/> through these properties, so it skips when the assets are absent).</summary>
internal static class TokenizerAssets
{
    public const string Llama2ModelPath = "llama2-tokenizer/tokenizer.model";
    public const string Llama2BinPath = "llama2-tokenizer/tokenizer.bin";
    public const string Tok512ModelPath = "stories260K/tok512.model";
    public const string Tok512BinPath = "stories260K/tok512.bin";

    private static readonly Lazy<SentencePieceTokenizer> Llama2ModelLazy = new(() => SentencePieceTokenizer.Load(SharedData.Require(Llama2ModelPath)));
    private static readonly Lazy<Llama2cTokenizer> Llama2BinLazy = new(() => Llama2cTokenizer.Load(SharedData.Require(Llama2BinPath), 32000));
    private static readonly Lazy<GgufVocabTokenizer> Llama2GgufLazy = new(() => FromModelArrays(Llama2Model, "llama2 arrays"));
    private static readonly Lazy<SentencePieceTokenizer> Tok512ModelLazy = new(() => SentencePieceTokenizer.Load(SharedData.Require(Tok512ModelPath)));
    private static readonly Lazy<Llama2cTokenizer> Tok512BinLazy = new(() => Llama2cTokenizer.Load(SharedData.Require(Tok512BinPath), 512));

    public static SentencePieceTokenizer Llama2Model { get { SharedData.Require(Llama2ModelPath); return Llama2ModelLazy.Value; } }
    public static Llama2cTokenizer Llama2Bin { get { SharedData.Require(Llama2BinPath); return Llama2BinLazy.Value; } }
    public static GgufVocabTokenizer Llama2Gguf { get { SharedData.Require(Llama2ModelPath); return Llama2GgufLazy.Value; } }
    public static SentencePieceTokenizer Tok512Model { get { SharedData.Require(Tok512ModelPath); return Tok512ModelLazy.Value; } }
    public static Llama2cTokenizer Tok512Bin { get { SharedData.Require(Tok512BinPath); return Tok512BinLazy.Value; } }

    /// <summary>The arrays a GGUF file's tokenizer.ggml.* keys would hold, taken from the protobuf pieces.</summary>
    public static GgufVocabTokenizer FromModelArrays(SentencePieceTokenizer spm, string source)
    {
        var m = spm.Model;
        return GgufVocabTokenizer.Create(source,
            m.Pieces.Select(p => p.Piece).ToArray(),
            m.Pieces.Select(p => p.Score).ToArray(),
            m.Pieces.Select(p => (int)p.Kind).ToArray(),
            bosId: m.BosId, eosId: m.EosId, unkId: m.UnkId, padId: m.PadId, addSpacePrefix: m.AddDummyPrefix);
    }

    public static ITokenizer Llama2(string format) => format switch
    {
        "model" => Llama2Model,
        "bin" => Llama2Bin,
        "gguf" => Llama2Gguf,
        _ => throw new ArgumentException(format),
    };

    /// <summary>llama.cpp's tokenizer test vectors: 46 strings and their ids (no BOS, dummy prefix applied).</summary>
    public static (string Text, int[] Ids)[] LlamaSpmCases()
    {
        var inp = File.ReadAllText(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf.inp"));
        var outp = File.ReadAllText(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf.out"));
        var texts = inp.Split("\n__ggml_vocab_test__\n");
        // The file ends with the separator, leaving one empty piece after it.
        Assert.Equal("", texts[^1]);
        var lines = outp.Split('\n');
        Assert.Equal("", lines[^1]);
        Assert.Equal(46, texts.Length - 1);
        Assert.Equal(46, lines.Length - 1);
        return Enumerable.Range(0, 46).Select(i => (texts[i],
            lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToArray();
    }

    public static string TinyStoriesSample => File.ReadAllText(SharedData.Require("datasets/tinystories_sample_cs336.txt"));
}
