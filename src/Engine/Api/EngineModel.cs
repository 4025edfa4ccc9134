using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Api;

/// <summary>A loaded Llama-family model with its tokenizer, on one device: generate, evaluate, export. Load one with
/// <see cref="Load"/> (HF folder, llama2.c checkpoint or GGUF file) or <see cref="Demo"/>; fine-tune with
/// <see cref="FineTuning.Run"/>. Bad input raises <see cref="EngineException"/> with a message naming the file and
/// field. Not thread-safe: use one model from one thread at a time.</summary>
public sealed class EngineModel : IDisposable
{
    private readonly LoadedModel _loaded;
    private bool _disposed;

    private EngineModel(LoadedModel loaded, string format, bool hasAdapter)
    {
        _loaded = loaded;
        HasAdapter = hasAdapter;
        Info = Describe(loaded, format);
    }

    /// <summary>Opens a model: an HF folder (config.json + safetensors, dense or bitsandbytes NF4), a llama2.c checkpoint
    /// (.bin) or a .gguf file, with the tokenizer found beside it (or <see cref="ModelOptions.Tokenizer"/>) and
    /// optionally a LoRA adapter on top.</summary>
    public static EngineModel Load(string path, ModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ModelOptions();
        var loaded = ModelLoader.Load(path, Devices.Create(options.Device), new WeightOptions { KeepGgmlBlocks = true }, options.Tokenizer);
        return WithAdapter(loaded, loaded.Format.ToString(), options.Adapter);
    }

    /// <summary>Describes a model file or folder (architecture, parameter count, NF4 quantization, tokenizer). The weights
    /// are read on the CPU, whatever device is available.</summary>
    public static ModelInfo Inspect(string path, string? tokenizer = null)
    {
        using var m = Load(path, new ModelOptions { Device = "cpu", Tokenizer = tokenizer });
        return m.Info;
    }

    /// <summary>The built-in demo model: a small Llama created from a fixed seed with a vocabulary built from the sample
    /// conversations shipped with engine (what <see cref="FineTuning.Run"/> trains when no model is given). The same
    /// every time, so a demo adapter (<see cref="ModelOptions.Adapter"/>) applies to it.</summary>
    public static EngineModel Demo(ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        return WithAdapter(DemoModel(Devices.Create(options.Device)), "Demo", options.Adapter);
    }

    internal static LoadedModel DemoModel(IBackend be)
    {
        var tok = Training.Demo.Tokenizer();
        return new LoadedModel
        {
            Model = Training.Demo.Model(be, tok, new WeightOptions()), Tokenizer = tok, SourcePath = "demo", Format = ModelFormat.HfFolder,
        };
    }

    internal static EngineModel WithAdapter(LoadedModel loaded, string format, string? adapter)
    {
        if (adapter is not null)
        {
            try { loaded.Model.Owned.Add(PeftAdapterIO.Load(loaded.Model, adapter)); }
            catch { loaded.Dispose(); throw; }
        }
        return new EngineModel(loaded, format, adapter is not null);
    }

    /// <summary>Architecture, size and tokenizer of the model.</summary>
    public ModelInfo Info { get; private set; }

    /// <summary>True while a LoRA adapter is applied on top of the base weights.</summary>
    public bool HasAdapter { get; private set; }

    /// <summary>The device the model runs on ("cpu", "cuda:0", ...).</summary>
    public string Device => _loaded.Model.Backend.Name;

    internal LoadedModel Loaded => Alive()._loaded;
    private ITokenizer Tokenizer => _loaded.RequireTokenizer();

    /// <summary>Token ids of <paramref name="text"/> (no BOS).</summary>
    public IReadOnlyList<int> Tokenize(string text) => Alive().Tokenizer.Encode(text);

    /// <summary>Text of token ids.</summary>
    public string Decode(IReadOnlyList<int> ids) => Alive().Tokenizer.Decode(ids.ToArray());

    /// <summary>Continues <paramref name="prompt"/> (BOS is prepended when the tokenizer adds one) with a KV cache. <paramref name="onText"/>
    /// receives the text as it is produced, prompt first, in pieces that never split a UTF-8 character.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions? options = null, Action<string>? onText = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        Alive();
        options ??= new GenerationOptions();
        options.Validate();
        var tok = Tokenizer;
        var stopTokens = new HashSet<int>(EndOfSequenceIds());
        List<int> promptIds;
        if (options.Chat)
        {
            var template = JinjaChatTemplate.ForModel(_loaded.SourcePath, _loaded.TokenizerPath)
                ?? throw new EngineException($"--chat needs the model's chat template, and {_loaded.SourcePath} has none (no {ChatTemplateSource.JinjaFile}, no chat_template in {ChatTemplateSource.ConfigFile}, no tokenizer.chat_template in a GGUF)");
            var segments = template.RenderGenerationPrompt(options.System, prompt);
            promptIds = [.. new SampleEncoder(tok, template, int.MaxValue).EncodeSegments(segments, 0).InputIds];
            stopTokens.UnionWith(template.EndOfTurnIds(tok));
        }
        else
        {
            promptIds = [];
            if (tok.AddBos) promptIds.Add(tok.BosId);
            promptIds.AddRange(tok.Encode(prompt));
        }
        if (promptIds.Count == 0)
            throw new EngineException("the prompt is empty and this tokenizer adds no BOS token: give a prompt of at least one token");
        var sampling = new SamplingOptions { Temperature = options.Temperature, TopK = options.TopK, TopP = options.TopP, Seed = options.Seed };
        var stream = onText is null ? null : new TokenStreamDecoder(tok);
        if (stream is not null) foreach (var id in promptIds) Emit(onText!, stream.Append(id));
        if (options.KvCache == "f16" && _loaded.Model.Backend.ActivationType != DType.F32)
            throw new EngineException($"--kv-cache f16: the f16 cache is a CPU option; {Device} keeps its cache in {_loaded.Model.Backend.ActivationType.Name()}");
        var generator = new Generator(_loaded.Model)
        {
            CacheType = options.KvCache switch { "f32" => DType.F32, "f16" => DType.F16, "q8_0" => KvCacheType.Q8_0, _ => (KvCacheType?)null },
        };
        var all = generator.Generate(promptIds, options.MaxNewTokens, sampling, stopAtEos: !options.IgnoreEos,
            onToken: stream is null ? null : id => Emit(onText!, stream.Append(id)), stopTokens: options.IgnoreEos ? null : stopTokens);
        if (stream is not null) Emit(onText!, stream.Flush());
        return new GenerationResult(promptIds, all, tok.Decode(all), tok.Decode(all[promptIds.Count..]));
    }

    /// <summary>Every id that ends a sequence: config.json's eos_token_id (all of a list), generation_config.json's
    /// (HF generate stops at those), and the tokenizer's EOS.</summary>
    private IEnumerable<int> EndOfSequenceIds()
    {
        foreach (var id in _loaded.Model.Config.EosTokenIds) yield return id;
        foreach (var id in GenerationConfig.EosTokenIds(_loaded.SourcePath)) yield return id;
        if (Tokenizer.EosId >= 0) yield return Tokenizer.EosId;
    }

    private static void Emit(Action<string> onText, string piece)
    {
        if (piece.Length > 0) onText(piece);
    }

    /// <summary>Scores each text as its own sequence (BOS first): the mean negative log-likelihood per predicted token and
    /// the perplexity. Every token after BOS is scored exactly once. A text longer than the model's context is scored with
    /// a sliding window: windows of the context length, a stride of half the context, each window scoring only the tokens
    /// the previous ones did not (so each has at least half a context of left context), as in Hugging Face's perplexity
    /// guide; a text that fits the context is one window.</summary>
    public EvaluationResult Evaluate(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        Alive();
        var list = texts.ToList();
        if (list.Count == 0) throw new EngineException("nothing to evaluate: no texts given");
        var score = Perplexity.Evaluate(_loaded.Model, Tokenizer, list);
        return new EvaluationResult(list.Count, score.Tokens, score.MeanNll);
    }

    /// <summary>Writes the model as a GGUF v3 file that llama.cpp (and Ollama, LM Studio) loads. An applied LoRA adapter is
    /// merged into the weights first and NF4 projections are dequantized, so afterwards this model holds the merged
    /// dense weights (it computes the same function) and <see cref="HasAdapter"/> is false.</summary>
    public GgufExportResult ExportGguf(string path, GgufExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Alive();
        var type = (options ?? new GgufExportOptions()).Validate();
        var tok = Tokenizer;
        MergeAdapterAndDequantize(DType.F32);
        var report = GgufExporter.Export(_loaded.Model, tok, type, path, options?.Name);
        var notes = report.Notes.ToList();
        string? modelfile = null;
        if (options?.Modelfile == true)
        {
            modelfile = Path.ChangeExtension(path, ".Modelfile");
            var text = OllamaModelfile.Build(Path.GetFileName(path), JinjaChatTemplate.ForModel(_loaded.SourcePath, _loaded.TokenizerPath), tok, notes);
            Formats.AtomicFile.Write(modelfile, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));
        }
        return new GgufExportResult(path, type.Name, new FileInfo(path).Length,
            report.Tensors.Select(t => new GgufTensorEntry(t.Name, t.Type.Name(), t.Shape.Select(d => (long)d).ToArray())).ToArray(),
            notes.ToArray()) { ModelfilePath = modelfile };
    }

    /// <summary>Saves the model as an HF folder (config.json, safetensors, tokenizer) after merging an applied adapter;
    /// <paramref name="dtype"/> is f32, bf16 or f16.</summary>
    public void SaveHf(string directory, string dtype = "bf16")
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Alive();
        var storeAs = TrainJob.ParseDType(dtype);
        MergeAdapterAndDequantize(storeAs);
        HfModelWriter.Save(_loaded.Model, directory, storeAs, _loaded.TokenizerPath);
    }

    /// <summary>Folds an applied adapter into its base, dequantizing an NF4 base first (as bitsandbytes dequantizes to its
    /// compute dtype before PEFT adds the update). Returns the number of projections merged.</summary>
    internal int MergeAdapterAndDequantize(DType dtype)
    {
        var model = _loaded.Model;
        Nf4Quantization.DequantizeLinears(model, dtype);
        GgmlPacking.Dequantize(model, dtype);
        int merged = model.Layers.Sum(l => LlamaNames.Projections.Count(p => l.Get(p.Short) is Nn.LoraLinear));
        LoraAdapter.MergeInto(model);
        HasAdapter = false;
        Info = Describe(_loaded, Info.Format);
        return merged;
    }

    private static ModelInfo Describe(LoadedModel m, string format)
    {
        var c = m.Model.Config;
        var sizes = Nf4Quantization.Sizes(m.Model);
        var packed = GgmlPacking.Sizes(m.Model);
        return new ModelInfo
        {
            Path = m.SourcePath, Format = format,
            ModelType = c.Family.ModelType(), RopeScaling = c.RopeScaling?.TypeName, SlidingWindow = c.SlidingWindow,
            HiddenSize = c.HiddenSize, IntermediateSize = c.IntermediateSize, NumHiddenLayers = c.NumLayers,
            NumAttentionHeads = c.NumHeads, NumKeyValueHeads = c.NumKvHeads, HeadDim = c.HeadDim, VocabSize = c.VocabSize,
            MaxPositionEmbeddings = c.MaxPositionEmbeddings, RmsNormEps = c.RmsNormEps, RopeTheta = c.RopeTheta,
            TieWordEmbeddings = c.TieWordEmbeddings, BosTokenId = c.BosTokenId, EosTokenId = c.EosTokenId,
            Parameters = sizes.Bf16 / 2 + packed.Elements,
            Quantization = packed.Types ?? (sizes.QuantizedProjections == 0 ? null : sizes.DoubleQuant ? "nf4+dq" : "nf4"),
            QuantizedProjections = sizes.QuantizedProjections + packed.Projections,
            Tokenizer = m.TokenizerPath ?? (m.Tokenizer is not null ? "embedded" : null),
            TokenizerVocabSize = m.Tokenizer?.VocabSize,
        };
    }

    private EngineModel Alive() => _disposed ? throw new ObjectDisposedException(nameof(EngineModel)) : this;

    /// <summary>Frees the model's weights (device memory included).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _loaded.Dispose();
    }
}
