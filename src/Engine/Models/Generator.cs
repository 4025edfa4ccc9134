using Engine.Autograd;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>Autoregressive generation with a KV cache: the prompt is fed in forwards of at most <see cref="PromptChunk"/>
/// tokens, then one token per step.</summary>
internal sealed class Generator
{
    private readonly LlamaModel _model;

    public Generator(LlamaModel model) => _model = model;

    /// <summary>The most tokens one forward takes (llama.cpp's n_ubatch, whose default this shares): a longer prompt is
    /// fed in pieces of this size, each appending to the cache and attending to everything before it, so the result is
    /// the same forward up to the order of sums and the product path each piece's row count picks. Bounds what a long
    /// prompt holds at once (a 4096-token 7B prompt would otherwise hold 0.5 GB of MLP activations alone). Smaller
    /// pieces save little more: a 512-token TinyLlama q4_0 prompt peaked at 1.213× the file at once and 1.207× in
    /// pieces of 256, while the k-quant prompt ran 20–45% slower in pieces of 256 or 128 (each piece dequantizes the
    /// weights again; bench/RESULTS.md).</summary>
    public int PromptChunk { get; init; } = DefaultPromptChunk;

    /// <summary>The default <see cref="PromptChunk"/>.</summary>
    public const int DefaultPromptChunk = 512;

    /// <summary>How the KV cache stores keys and values; null: <see cref="DefaultCacheType"/>.</summary>
    public KvCacheType? CacheType { get; init; }

    /// <summary>f16 on the CPU for a model that holds GGUF block weights (llama.cpp's default cache type for the same
    /// file); otherwise the backend's activation dtype, so a dense fp32 model decodes exactly in fp32.</summary>
    public static KvCacheType DefaultCacheType(LlamaModel model) =>
        model.Backend.ActivationType == DType.F32 && model.HoldsGgmlBlocks ? DType.F16 : model.Backend.ActivationType;

    /// <summary>A cache for up to <paramref name="maxTokens"/> tokens of this generator's type.</summary>
    public KvCache NewCache(int maxTokens) => new(_model.Backend, _model.Config, maxTokens, CacheType ?? DefaultCacheType(_model));

    /// <summary>Feeds <paramref name="prompt"/> (BOS included if wanted) and generates up to <paramref name="maxNewTokens"/>
    /// tokens, stopping after EOS when <paramref name="stopAtEos"/>. Returns the whole sequence (prompt + generated).
    /// <paramref name="onToken"/> sees each new token as it is produced.</summary>
    public int[] Generate(IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling, bool stopAtEos = true,
                          Action<int>? onToken = null, IReadOnlyCollection<int>? stopTokens = null)
    {
        if (prompt.Count == 0) throw new EngineException("generation needs at least one prompt token (BOS)");
        int context = _model.Config.MaxPositionEmbeddings;
        if (prompt.Count > context) throw new EngineException($"the prompt has {prompt.Count} tokens; the model's context is {context}");
        int total = Math.Min(context, prompt.Count + Math.Max(0, maxNewTokens));
        var sampler = new Sampler(sampling);
        var seq = new List<int>(prompt);
        using var cache = NewCache(total);
        using var _ = GradMode.NoGrad();
        var logits = Step(cache, prompt);
        while (seq.Count < total)
        {
            int next = sampler.Next(logits);
            seq.Add(next);
            onToken?.Invoke(next);
            if (stopAtEos && _model.Config.EosTokenIds.Contains(next)) break;
            if (stopTokens is not null && stopTokens.Contains(next)) break;
            if (seq.Count >= total) break;
            logits = Step(cache, new[] { next });
        }
        return seq.ToArray();
    }

    /// <summary>Feeds tokens at the cache's position (in pieces of at most <see cref="PromptChunk"/>) and returns the
    /// logits after the last one.</summary>
    public float[] Step(KvCache cache, IReadOnlyList<int> tokens)
    {
        if (PromptChunk < 1) throw new ArgumentException($"PromptChunk must be at least 1; got {PromptChunk}");
        if (tokens.Count == 0) throw new ArgumentException("a step needs at least one token", nameof(tokens));
        var all = tokens as int[] ?? tokens.ToArray();
        int start = 0;
        for (; all.Length - start > PromptChunk; start += PromptChunk) Feed(cache, all.AsSpan(start, PromptChunk), logits: false);
        return Feed(cache, all.AsSpan(start), logits: true)!;
    }

    /// <summary>One forward of <paramref name="tokens"/> at the cache's position; the logits after the last token when asked.</summary>
    private float[]? Feed(KvCache cache, ReadOnlySpan<int> tokens, bool logits)
    {
        var be = _model.Backend;
        using var scope = new TensorScope();
        var ids = be.FromInts(tokens.ToArray(), new Shape(1, tokens.Length));
        var pos = _model.Positions(1, tokens.Length, cache.Length);
        var hidden = _model.Forward(ids, pos, ForwardContext.Inference, cache);
        if (!logits) return null;
        var last = hidden.Slice(tokens.Length - 1, 1);
        var head = _model.Logits(last);
        var result = new float[head.NumElements];
        be.ToFloats(head, result);
        return result;
    }
}
