using Engine.Backends;
using Engine.Formats;
using Engine.Models;
using Engine.Nn;
using Engine.Tokenizers;

namespace Engine.Checkpoints;

internal enum ModelFormat { HfFolder, Llama2c, Gguf }

/// <summary>A model with its tokenizer and where they came from.</summary>
internal sealed class LoadedModel : IDisposable
{
    public required LlamaModel Model { get; init; }
    public ITokenizer? Tokenizer { get; init; }
    /// <summary>The tokenizer file, when it came from one (to copy into saved model folders).</summary>
    public string? TokenizerPath { get; init; }
    public required string SourcePath { get; init; }
    public required ModelFormat Format { get; init; }

    public ITokenizer RequireTokenizer() => Tokenizer ?? throw new EngineException(
        $"{SourcePath}: no tokenizer found next to the model; pass --tokenizer PATH (tokenizer.json, tokenizer.model or tokenizer.bin)");

    public void Dispose() => Model.Dispose();
}

/// <summary>Opens a model by path: an HF folder (config.json + safetensors), a llama2.c checkpoint (.bin) or a GGUF
/// file. Everything is converted to engine's canonical layout (HF names, half-split RoPE rows).</summary>
internal static class ModelLoader
{
    /// <summary>What kind of model <paramref name="path"/> names, probing the file once: a folder (or its config.json)
    /// is an HF folder, a file with the GGUF magic (or a .gguf name) is GGUF, any other file a llama2.c checkpoint.</summary>
    public static ModelFormat Detect(string path)
    {
        if (Directory.Exists(path) || Path.GetFileName(path) == "config.json" && File.Exists(path)) return ModelFormat.HfFolder;
        if (!File.Exists(path)) throw new EngineException($"--model {path}: no such file or folder");
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
        {
            // A safetensors file is one part of an HF folder: load the folder it sits in when that holds config.json.
            if (File.Exists(Path.Combine(HfFolder(path), "config.json"))) return ModelFormat.HfFolder;
            throw new EngineException($"--model {path}: a safetensors file alone is not a model; pass the folder that holds it with config.json");
        }
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || StartsWithGgufMagic(path)) return ModelFormat.Gguf;
        return ModelFormat.Llama2c;
    }

    private static string HfFolder(string path) => Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;

    public static LoadedModel Load(string path, IBackend backend, WeightOptions options, string? tokenizerPath = null) =>
        Load(path, backend, _ => options, tokenizerPath);

    /// <summary>Loads a model, choosing how to place its weights once its configuration is known (the trainer needs the
    /// layer count to resolve --trainable); the file is opened once.</summary>
    public static LoadedModel Load(string path, IBackend backend, Func<LlamaConfig, WeightOptions> optionsFor, string? tokenizerPath = null) =>
        Detect(path) switch
        {
            ModelFormat.HfFolder => LoadHf(HfFolder(path), backend, optionsFor, tokenizerPath),
            ModelFormat.Gguf => LoadGguf(path, backend, optionsFor, tokenizerPath),
            _ => LoadLlama2c(path, backend, optionsFor, tokenizerPath),
        };

    /// <summary>The tokenizer of a model without loading its weights (what <c>data preview</c> needs).</summary>
    public static (ITokenizer? Tokenizer, string? Path) OpenTokenizer(string path, string? tokenizerPath = null)
    {
        switch (Detect(path))
        {
            case ModelFormat.HfFolder:
            {
                var dir = HfFolder(path);
                return HfTokenizer(dir, ReadHfConfig(dir), tokenizerPath);
            }
            case ModelFormat.Gguf:
            {
                using var g = GgufFile.Open(path);
                return GgufTokenizer(g, path, GgufConfig(g, path), tokenizerPath);
            }
            default:
            {
                using var ck = Llama2cCheckpoint.Open(path);
                return Llama2cTokenizer(path, Llama2cConfig(ck.Header, path), tokenizerPath);
            }
        }
    }

    private static bool StartsWithGgufMagic(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> m = stackalloc byte[4];
        return f.Read(m) == 4 && m.SequenceEqual("GGUF"u8);
    }

    private static LoadedModel LoadHf(string dir, IBackend backend, Func<LlamaConfig, WeightOptions> optionsFor, string? tokenizerPath)
    {
        var config = ReadHfConfig(dir);
        BnbQuantizationConfig.Check(Path.Combine(dir, "config.json"));
        using var src = SafeTensorsSource.Open(dir);
        var tok = HfTokenizer(dir, config, tokenizerPath);
        return new LoadedModel
        {
            Model = LlamaWeights.LoadModel(src, config, backend, optionsFor(config)), Tokenizer = tok.Tokenizer, TokenizerPath = tok.Path,
            SourcePath = dir, Format = ModelFormat.HfFolder,
        };
    }

    private static LoadedModel LoadLlama2c(string path, IBackend backend, Func<LlamaConfig, WeightOptions> optionsFor, string? tokenizerPath)
    {
        using var ck = Llama2cCheckpoint.Open(path);
        var config = Llama2cConfig(ck.Header, path);
        var tok = Llama2cTokenizer(path, config, tokenizerPath);
        return new LoadedModel
        {
            Model = LlamaWeights.LoadModel(ck, config, backend, optionsFor(config) with { InterleavedRope = true }), Tokenizer = tok.Tokenizer, TokenizerPath = tok.Path,
            SourcePath = path, Format = ModelFormat.Llama2c,
        };
    }

    private static LlamaConfig ReadHfConfig(string dir)
    {
        var configPath = Path.Combine(dir, "config.json");
        if (!File.Exists(configPath)) throw new EngineException($"{dir}: not a model folder (no config.json)");
        return LlamaConfig.FromHfJson(configPath);
    }

    /// <summary>An HF folder's tokenizer: --tokenizer, else tokenizer.json, tokenizer.model or tokenizer.bin in the folder.</summary>
    private static (ITokenizer? Tokenizer, string? Path) HfTokenizer(string dir, LlamaConfig config, string? tokenizerPath) =>
        LoadTokenizer(tokenizerPath ?? FindTokenizer(dir, null), config);

    /// <summary>A llama2.c checkpoint's tokenizer: --tokenizer, else one beside it (tok{vocab}.model/.bin included).</summary>
    private static (ITokenizer? Tokenizer, string? Path) Llama2cTokenizer(string path, LlamaConfig config, string? tokenizerPath) =>
        LoadTokenizer(tokenizerPath ?? FindTokenizer(Path.GetDirectoryName(Path.GetFullPath(path))!, config.VocabSize), config);

    /// <summary>llama2.c checkpoints imply run.c's constants: RMSNorm eps 1e-5, RoPE theta 10000, BOS 1, EOS 2.</summary>
    public static LlamaConfig Llama2cConfig(Llama2cHeader h, string path) => new LlamaConfig
    {
        HiddenSize = h.Dim, IntermediateSize = h.HiddenDim, NumLayers = h.NLayers, NumHeads = h.NHeads,
        NumKvHeads = h.NKvHeads, HeadDim = h.Dim / h.NHeads, VocabSize = h.VocabSize,
        MaxPositionEmbeddings = h.SeqLen, RmsNormEps = 1e-5f, RopeTheta = 10000f,
        TieWordEmbeddings = h.SharedClassifier, BosTokenId = 1, EosTokenId = 2,
    }.Validate(path);

    /// <summary>The config of a GGUF file of llama.cpp's llama, qwen2 or qwen3 architecture (a llama-arch file may be
    /// a Llama or a Mistral; it loads as Llama, which computes the same function without a window). Biases are
    /// detected from the tensors present. RoPE scaling linear and yarn is read back, and a rope_freqs.weight tensor as
    /// the llama3 scaling that produces it (<see cref="RopeScaling.FromLlama3Divisors"/>).</summary>
    public static LlamaConfig GgufConfig(GgufFile g, string path)
    {
        var arch = g.GetString("general.architecture");
        ModelFamily family = arch switch
        {
            "llama" => ModelFamily.Llama,
            "qwen2" => ModelFamily.Qwen2,
            "qwen3" => ModelFamily.Qwen3,
            _ => throw new FileFormatException(path, "general.architecture", $"engine runs llama, qwen2 and qwen3 models; got \"{arch}\""),
        };
        int U(string key) => Int32Metadata(g, path, key);
        string K(string key) => $"{arch}.{key}";
        int dim = U(K("embedding_length")), heads = U(K("attention.head_count"));
        int vocab = g.ContainsKey(K("vocab_size")) ? U(K("vocab_size"))
            : g.TryGet<string[]>("tokenizer.ggml.tokens", out var tk) ? tk.Length
            : throw new FileFormatException(path, K("vocab_size"), "missing, and no tokenizer.ggml.tokens to count");
        RopeScaling? scaling = null;
        int headDim = g.ContainsKey(K("attention.key_length")) ? U(K("attention.key_length")) : heads > 0 ? dim / heads : 0;
        float ropeTheta = g.TryGet<float>(K("rope.freq_base"), out var theta) ? theta : 10000f;
        if (g.Contains(GgufNames.RopeFreqs))
        {
            // llama3 rope scaling, which convert_hf_to_gguf.py writes as per-pair divisors: recovered as llama3 parameters.
            var info = g.Info(GgufNames.RopeFreqs);
            if (info.NumElements > 1 << 16) throw new FileFormatException(path, GgufNames.RopeFreqs, $"has {info.NumElements} values; expected head_dim / 2");
            var divisors = new float[info.NumElements];
            g.ReadFloats(GgufNames.RopeFreqs, divisors);
            scaling = RopeScaling.FromLlama3Divisors(divisors, headDim, ropeTheta, out var why)
                      ?? throw new FileFormatException(path, GgufNames.RopeFreqs, $"{why}; engine reads these per-pair RoPE divisors only as llama3 scaling");
        }
        if (g.ContainsKey(K("rope.scaling.type")) && scaling is null)
        {
            var type = g.GetString(K("rope.scaling.type"));
            double factor = g.TryGet<float>(K("rope.scaling.factor"), out var f) ? f
                : throw new FileFormatException(path, $"metadata '{K("rope.scaling.factor")}'", "missing; the scaling type needs it");
            scaling = type switch
            {
                "none" => null,
                "linear" => factor == 1 ? null : new RopeScaling { Type = RopeScalingType.Linear, Factor = factor },
                "yarn" => new RopeScaling
                {
                    Type = RopeScalingType.Yarn, Factor = factor,
                    OriginalMaxPositions = g.ContainsKey(K("rope.scaling.original_context_length")) ? U(K("rope.scaling.original_context_length")) : null,
                },
                _ => throw new FileFormatException(path, $"metadata '{K("rope.scaling.type")}'", $"RoPE scaling \"{type}\" is not supported; engine reads none, linear and yarn"),
            };
        }
        bool Has(string tensor) => g.Contains($"blk.0.{tensor}.bias");
        return new LlamaConfig
        {
            Family = family,
            HiddenSize = dim,
            IntermediateSize = U(K("feed_forward_length")),
            NumLayers = U(K("block_count")),
            NumHeads = heads,
            NumKvHeads = g.ContainsKey(K("attention.head_count_kv")) ? U(K("attention.head_count_kv")) : heads,
            HeadDim = headDim,
            VocabSize = vocab,
            MaxPositionEmbeddings = U(K("context_length")),
            RmsNormEps = g.GetF32(K("attention.layer_norm_rms_epsilon")),
            RopeTheta = ropeTheta,
            RopeScaling = scaling,
            TieWordEmbeddings = !g.Contains("output.weight"),
            AttentionBias = family != ModelFamily.Qwen2 && Has("attn_q"),
            MlpBias = family == ModelFamily.Llama && Has("ffn_gate"),
            BosTokenId = g.ContainsKey("tokenizer.ggml.bos_token_id") ? U("tokenizer.ggml.bos_token_id") : 1,
            EosTokenId = g.ContainsKey("tokenizer.ggml.eos_token_id") ? U("tokenizer.ggml.eos_token_id") : 2,
        }.Validate(path);
    }

    /// <summary>An integer metadata value that must fit an int32 (sizes, counts, token ids): a clear error, not an
    /// overflow, for 2^32-1 and the like.</summary>
    private static int Int32Metadata(GgufFile g, string path, string key)
    {
        long v = g.GetInteger(key);
        if (v is < int.MinValue or > int.MaxValue)
            throw new FileFormatException(path, $"metadata '{key}'", $"is {v}; expected at most {int.MaxValue}");
        return (int)v;
    }

    private static LoadedModel LoadGguf(string path, IBackend backend, Func<LlamaConfig, WeightOptions> optionsFor, string? tokenizerPath)
    {
        var g = GgufFile.Open(path);
        try
        {
            WeightOptions? used = null;
            var loaded = LoadGguf(g, path, backend, c => used = optionsFor(c), tokenizerPath);
            // Weights read in place are views into the file's map: then the model keeps the file open.
            if (loaded.Model.HoldsGgmlBlocks && used!.GgmlPlacement == GgmlPlacement.Mapped) loaded.Model.Owned.Add(g);
            else g.Dispose();
            return loaded;
        }
        catch
        {
            g.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadGguf(GgufFile g, string path, IBackend backend, Func<LlamaConfig, WeightOptions> optionsFor, string? tokenizerPath)
    {
        var config = GgufConfig(g, path);
        // Every llama block has at least 9 tensors: check the count against the file before listing per-layer names,
        // so a block_count of 2^31-1 fails at once.
        var arch = config.Family.GgufArchitecture();
        if ((long)config.NumLayers * 9 > g.Tensors.Count)
            throw new FileFormatException(path, $"metadata '{arch}.block_count'",
                $"is {config.NumLayers}, but the file holds {g.Tensors.Count} tensors (each {arch} block has at least 9)");
        var tok = GgufTokenizer(g, path, config, tokenizerPath);
        var map = GgufNames.Map(config).Where(m => g.Contains(m.Gguf)).ToDictionary(m => m.Hf, m => m.Gguf);
        using var renamed = new RenamedTensorSource(g, map, ownsInner: false);
        return new LoadedModel
        {
            // Only llama.cpp's llama architecture stores q/k rows interleaved; qwen2/qwen3 keep HF's half-split order.
            Model = LlamaWeights.LoadModel(renamed, config, backend, optionsFor(config) with { InterleavedRope = arch == "llama" }), Tokenizer = tok.Tokenizer, TokenizerPath = tok.Path,
            SourcePath = path, Format = ModelFormat.Gguf,
        };
    }

    /// <summary>A GGUF model's tokenizer: the --tokenizer file when given, else the vocabulary embedded in the file.</summary>
    private static (ITokenizer? Tokenizer, string? Path) GgufTokenizer(GgufFile g, string path, LlamaConfig config, string? tokenizerPath)
    {
        (ITokenizer? Tokenizer, string? Path) tok;
        if (tokenizerPath is not null) tok = LoadTokenizer(tokenizerPath, config);
        else if (g.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens)) tok = (GgufVocabulary(g, path, tokens), null);
        else tok = (null, null);
        // An HF tokenizer may be smaller than the model's padded vocabulary (Qwen); TokenizerLoader checks that one.
        if (tok.Tokenizer is not null && tok.Tokenizer is not Engine.Tokenizers.HfTokenizer && tok.Tokenizer.VocabSize != config.VocabSize)
            throw new FileFormatException(path, "tokenizer.ggml.tokens", $"has {tok.Tokenizer.VocabSize} tokens but the model's vocabulary is {config.VocabSize}");
        return tok;
    }

    private static ITokenizer GgufVocabulary(GgufFile g, string path, string[] tokens)
    {
        var model = g.TryGet<string>("tokenizer.ggml.model", out var m) ? m : "llama";
        var types = g.TryGet<int[]>("tokenizer.ggml.token_type", out var t) ? t : Enumerable.Repeat(1, tokens.Length).ToArray();
        int Id(string key, int fallback) => g.ContainsKey(key) ? Int32Metadata(g, path, key) : fallback;
        if (model == "gpt2")
        {
            if (!g.TryGet<string[]>("tokenizer.ggml.merges", out var merges))
                throw new FileFormatException(path, "tokenizer.ggml.merges", "missing; a \"gpt2\" vocabulary needs its merges");
            var pre = g.TryGet<string>("tokenizer.ggml.pre", out var p) ? p : "default";
            return GgufVocabTokenizer.CreateBpe(path, tokens, types, merges, pre,
                Id("tokenizer.ggml.bos_token_id", -1), Id("tokenizer.ggml.eos_token_id", -1),
                Id("tokenizer.ggml.unknown_token_id", -1), Id("tokenizer.ggml.padding_token_id", -1),
                g.TryGet<bool>("tokenizer.ggml.add_bos_token", out var ab) && ab, g.TryGet<bool>("tokenizer.ggml.add_eos_token", out var ae) && ae,
                g.TryGet<string>("tokenizer.chat_template", out var ct) ? ct : null);
        }
        if (model != "llama") throw new FileFormatException(path, "tokenizer.ggml.model", $"only SentencePiece (\"llama\") and byte-level BPE (\"gpt2\") vocabularies are supported; got \"{model}\"");
        var scores = g.TryGet<float[]>("tokenizer.ggml.scores", out var s) ? s : new float[tokens.Length];
        bool addPrefix = !g.TryGet<bool>("tokenizer.ggml.add_space_prefix", out var asp) || asp;
        bool removeSpaces = g.TryGet<bool>("tokenizer.ggml.remove_extra_whitespaces", out var rs) && rs;
        return GgufVocabTokenizer.Create(path, tokens, scores, types,
            Id("tokenizer.ggml.bos_token_id", 1), Id("tokenizer.ggml.eos_token_id", 2),
            Id("tokenizer.ggml.unknown_token_id", 0), Id("tokenizer.ggml.padding_token_id", -1), addPrefix, removeSpaces);
    }

    /// <summary>Looks beside a model for its tokenizer: tokenizer.json (preferred, as HF AutoTokenizer does),
    /// tokenizer.model, tok{vocab}.model, tokenizer.bin, tok{vocab}.bin.</summary>
    public static string? FindTokenizer(string dir, int? vocabSize)
    {
        var names = new List<string> { "tokenizer.json", "tokenizer.model" };
        if (vocabSize is int v) names.Add($"tok{v}.model");
        names.Add("tokenizer.bin");
        if (vocabSize is int v2) names.Add($"tok{v2}.bin");
        return names.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
    }

    private static (ITokenizer? Tokenizer, string? Path) LoadTokenizer(string? path, LlamaConfig config)
    {
        if (path is null) return (null, null);
        return (TokenizerLoader.Load(path, config.VocabSize), path);
    }
}
