using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tests.Support;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>An HF model folder with tokenizer.json: saving a model copies tokenizer.json and tokenizer_config.json,
/// and loading the folder finds them (preferred over tokenizer.model) with a vocab_size padded beyond the tokenizer.</summary>
public class HfModelFolderTests
{
    [Fact]
    public void SavedFolder_CarriesTheTokenizerJson_AndLoadsItBack()
    {
        var source = HfTokenizerAssets.PathOf("qwen3");
        var hf = HfTokenizerAssets.Get("qwen3");
        var c = new LlamaConfig
        {
            HiddenSize = 16, IntermediateSize = 32, NumLayers = 1, NumHeads = 2, NumKvHeads = 1, HeadDim = 8,
            VocabSize = 151936, MaxPositionEmbeddings = 64, RmsNormEps = 1e-6f, RopeTheta = 1000000f, TieWordEmbeddings = true,
            BosTokenId = 151643, EosTokenId = hf.EosId,
        }.Validate("test");
        using var model = new LlamaModel(c, CpuBackend.Instance, LlamaWeights.Random(c, CpuBackend.Instance, 1, new WeightOptions()));
        using var dir = new TempDir();
        var folder = dir.File("model");
        HfModelWriter.Save(model, folder, DType.F32, source);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")));
        Assert.True(File.Exists(Path.Combine(folder, "tokenizer_config.json")));
        // A tokenizer.model beside it is not chosen: tokenizer.json wins, as with AutoTokenizer.
        File.Copy(SharedData.Require("stories260K/tok512.model"), Path.Combine(folder, "tokenizer.model"));

        var (tok, path) = ModelLoader.OpenTokenizer(folder);
        Assert.Equal(Path.Combine(folder, "tokenizer.json"), path);
        var loaded = Assert.IsType<HfTokenizer>(tok);
        Assert.Equal(hf.ChatTemplate, loaded.ChatTemplate);
        Assert.Equal([9707, 1879], loaded.Encode("Hello world"));
        Assert.Equal((-1, 151645, 151643, false), (loaded.BosId, loaded.EosId, loaded.PadId, loaded.AddBos));
    }

    [Fact]
    public void TokenizerLargerThanTheModel_IsRefused()
    {
        var path = HfTokenizerAssets.PathOf("llama3_1");
        var e = Assert.Throws<FileFormatException>(() => TokenizerLoader.Load(path, 128000));
        Assert.Equal($"{path}: vocabulary size: tokenizer has 128256 tokens but the model's vocab_size is only 128000", e.Message);
        Assert.Equal(128256, TokenizerLoader.Load(path, 130000).VocabSize);
    }
}
