using Engine.Autograd;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>Autoregressive generation with a KV cache: the prompt is fed in one forward, then one token per step.</summary>
internal sealed class Generator
{
    private readonly LlamaModel _model;

    public Generator(LlamaModel model) => _model = model;

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

    /// <summary>Feeds tokens at the cache's position and returns the logits after the last one.</summary>
    public float[] Step(KvCache cache, IReadOnlyList<int> tokens)
    {
        var be = _model.Backend;
        using var scope = new TensorScope();
        var ids = be.FromInts(tokens.ToArray(), new Shape(1, tokens.Count));
        var pos = _model.Positions(1, tokens.Count, cache.Length);
        var hidden = _model.Forward(ids, pos, ForwardContext.Inference, cache);
        var last = hidden.Slice(tokens.Count - 1, 1);
        var logits = _model.Logits(last);
        var result = new float[logits.NumElements];
        be.ToFloats(logits, result);
        return result;
    }
}
