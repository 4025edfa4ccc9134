using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tests.Export;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>HF byte-level tokenizers through GGUF both ways: a tiny random-weight model exported with the Llama 3.1 /
/// Qwen 3 tokenizer.json writes a "gpt2" vocabulary that engine reads back with HF's ids (Reference/hf_ids.json), and
/// that llama.cpp (LLamaSharp) tokenizes exactly as engine does.</summary>
public class GgufBpeTokenizerTests
{
    private static string Export(string name, TempDir dir, int vocabSize, out HfTokenizer tok)
    {
        tok = HfTokenizerAssets.Get(name);
        var c = new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 64, NumLayers = 1, NumHeads = 2, NumKvHeads = 1, HeadDim = 16,
            VocabSize = vocabSize, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5f, RopeTheta = 500000f, TieWordEmbeddings = true,
            BosTokenId = Math.Max(tok.BosId, 0), EosTokenId = tok.EosId,
        }.Validate("test");
        using var model = new LlamaModel(c, CpuBackend.Instance, LlamaWeights.Random(c, CpuBackend.Instance, 3, new WeightOptions(), std: 0.02, embeddingStd: 0.02));
        var path = dir.File($"{name}.gguf");
        GgufExporter.Export(model, tok, GgmlType.F32, path);
        return path;
    }

    // Qwen 3's model pads its embedding rows beyond the tokenizer (151,936 for 151,669 tokens): the export writes
    // [PAD] tokens for the rest, as llama.cpp's converter does.
    [Theory, InlineData("llama3_1", 0, "llama-bpe"), InlineData("qwen3", 151936, "qwen2")]
    public void Export_WritesAGpt2Vocabulary_ThatReadsBackWithHfIds(string name, int vocabSize, string pre)
    {
        using var dir = new TempDir();
        var path = Export(name, dir, vocabSize == 0 ? HfTokenizerAssets.Get(name).VocabSize : vocabSize, out var hf);
        using (var g = GgufFile.Open(path))
        {
            Assert.Equal("gpt2", g.GetString("tokenizer.ggml.model"));
            Assert.Equal(pre, g.GetString("tokenizer.ggml.pre"));
            Assert.Equal(hf.ChatTemplate, g.GetString("tokenizer.chat_template"));
            Assert.Equal(hf.AddBos, g.TryGet<bool>("tokenizer.ggml.add_bos_token", out var ab) && ab);
        }
        var back = Assert.IsType<HfTokenizer>(ModelLoader.OpenTokenizer(path).Tokenizer);
        Assert.Equal((hf.BosId, hf.EosId, hf.PadId, hf.AddBos), (back.BosId, back.EosId, back.PadId, back.AddBos));
        foreach (var c in HfTokenizerAssets.Cases(name))
        {
            // llama.cpp (and so a GGUF vocabulary) applies no NFC; skip the one decomposed text for Qwen.
            if (UnicodeNfc.Normalize(c.Text) != c.Text) continue;
            Assert.Equal(c.Ids, back.EncodeWithSpans(c.Text, [new TextRange(0, c.Text.Length)]).Select(t => t.Id).ToArray());
            Assert.Equal(c.Text, back.Decode(back.Encode(c.Text)));
        }
    }

    [Theory, InlineData("llama3_1", 0), InlineData("qwen3", 151936)]
    public void LlamaCpp_TokenizesTheExportedVocabulary_AsEngineDoes(string name, int vocabSize)
    {
        using var dir = new TempDir();
        var path = Export(name, dir, vocabSize == 0 ? HfTokenizerAssets.Get(name).VocabSize : vocabSize, out var hf);
        var back = (HfTokenizer)ModelLoader.OpenTokenizer(path).Tokenizer!;
        using var cpp = LlamaCpp.Open(path, context: 64);
        var failures = new List<string>();
        foreach (var c in HfTokenizerAssets.Cases(name))
        {
            // Special tokens are not parsed on either side (LLamaSharp's Tokenize passes special: false); non-special
            // added tokens (Qwen's <think>) are matched on both.
            var engine = back.Encode(c.Text);
            var llama = cpp.Tokenize(c.Text, addBos: false);
            if (!engine.SequenceEqual(llama)) failures.Add($"\"{c.Text}\": engine [{string.Join(", ", engine)}] llama.cpp [{string.Join(", ", llama)}]");
            if (UnicodeNfc.Normalize(c.Text) == c.Text && !hf.Encode(c.Text).SequenceEqual(engine))
                failures.Add($"\"{c.Text}\": the tokenizer.json and GGUF tokenizers differ");
        }
        var withBos = cpp.Tokenize("Hello world", addBos: true);
        Assert.Equal((hf.AddBos ? new[] { hf.BosId } : []).Concat(hf.Encode("Hello world")), withBos);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
