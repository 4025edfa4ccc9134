using System.Reflection;
using System.Text.Json;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>The built-in demo that <c>engine train</c> runs when no --model is given: a small Llama initialised from a
/// fixed seed, a SentencePiece-style vocabulary built from the sample conversations (bytes, characters and the prefixes
/// of their most frequent words), and the conversations themselves (samples/demo_conversations.json, embedded).</summary>
internal static class Demo
{
    public const string DataResource = "demo_conversations.json";
    public const ulong Seed = 1234;

    public static byte[] SampleData()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream(DataResource)
                      ?? throw new InvalidOperationException("the demo dataset is missing from the engine assembly");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    /// <summary>Writes the sample conversations into the output folder (so the run's data is inspectable) and returns the path.</summary>
    public static string WriteSampleData(string outputDir)
    {
        Directory.CreateDirectory(outputDir);
        var path = Path.Combine(outputDir, "demo_conversations.json");
        File.WriteAllBytes(path, SampleData());
        return path;
    }

    public static LlamaConfig Config(int vocab) => new LlamaConfig
    {
        HiddenSize = 64, IntermediateSize = 176, NumLayers = 4, NumHeads = 4, NumKvHeads = 2, HeadDim = 16,
        VocabSize = vocab, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5f, RopeTheta = 10000f,
        BosTokenId = 1, EosTokenId = 2,
    }.Validate("demo");

    /// <summary>The demo model. Embedding and LM head start wider (std 0.15) than transformers' 0.02: with a frozen
    /// random base (the LoRA and QLoRA demos) the logits can then still separate tokens, so the loss visibly falls.</summary>
    public static LlamaModel Model(IBackend be, ITokenizer tokenizer, WeightOptions options)
    {
        var cfg = Config(tokenizer.VocabSize);
        return new LlamaModel(cfg, be, LlamaWeights.Random(cfg, be, Seed, options, std: 0.02, embeddingStd: 0.15));
    }

    /// <summary>The demo vocabulary as a SentencePiece model (it can be saved as tokenizer.model).</summary>
    public static SentencePieceModel VocabularyModel()
    {
        var pieces = new List<SentencePieceEntry>
        {
            new("<unk>", 0, TokenKind.Unknown), new("<s>", 0, TokenKind.Control), new("</s>", 0, TokenKind.Control),
        };
        for (int b = 0; b < 256; b++) pieces.Add(new($"<0x{b:X2}>", 0, TokenKind.Byte));
        var seen = new HashSet<string>(pieces.Select(p => p.Piece));
        void Add(string piece)
        {
            if (seen.Add(piece)) pieces.Add(new(piece, piece.Length, TokenKind.Normal));
        }
        Add("▁");
        for (char c = ' '; c < 127; c++) if (c != ' ') Add(c.ToString());
        foreach (var word in FrequentWords(300))
            for (int len = 1; len <= word.Length; len++) Add("▁" + word[..len]);
        return new SentencePieceModel
        {
            Pieces = pieces, ModelType = SentencePieceModelType.Bpe, ByteFallback = true,
            UnkId = 0, BosId = 1, EosId = 2, PadId = -1, NormalizerName = "identity",
            AddDummyPrefix = true, RemoveExtraWhitespaces = false, EscapeWhitespaces = true,
        };
    }

    public static SentencePieceTokenizer Tokenizer() => SentencePieceTokenizer.FromModel(VocabularyModel(), "demo vocabulary");

    private static IEnumerable<string> FrequentWords(int count)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(SampleData());
        foreach (var conv in doc.RootElement.EnumerateArray())
            foreach (var turn in conv.GetProperty("conversations").EnumerateArray())
                foreach (var w in turn.GetProperty("value").GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    counts[w] = counts.GetValueOrDefault(w) + 1;
        // The vicuna_v1.1 frame around every sample: role names and the default system prompt.
        foreach (var w in "USER: ASSISTANT: A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.".Split(' '))
            counts[w] = counts.GetValueOrDefault(w) + 100_000;
        return counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(count).Select(kv => kv.Key);
    }
}
