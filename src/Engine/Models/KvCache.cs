using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>Keys and values of every layer for one sequence (batch 1), [maxT, Hkv, Dh] each, filled as tokens are fed.
/// Stored in the backend's activation dtype, in f16 where asked (half the memory; llama.cpp's default cache type), or,
/// on the CPU, in ggml q8_0 blocks: then each tensor is u8 [maxT, Hkv, Dh/32·34], a head row's blocks side by side,
/// and the views <see cref="Append"/> returns are u8 too, which the CPU attention reads as q8_0 blocks.</summary>
internal sealed class KvCache : IDisposable
{
    private readonly Tensor[] _k, _v;

    /// <param name="type">how keys and values are stored; null: the backend's activation dtype.</param>
    public KvCache(IBackend be, LlamaConfig c, int maxTokens, KvCacheType? type = null)
    {
        MaxTokens = maxTokens;
        Type = type ?? be.ActivationType;
        if (Type.IsQ8_0) CheckQ8_0(be, c);
        _k = new Tensor[c.NumLayers];
        _v = new Tensor[c.NumLayers];
        var shape = new Shape(maxTokens, c.NumKvHeads, Type.RowElements(c.HeadDim));
        for (int i = 0; i < c.NumLayers; i++)
        {
            _k[i] = TensorScope.Unscoped(() => be.Zeros(shape, Type.Storage));
            _v[i] = TensorScope.Unscoped(() => be.Zeros(shape, Type.Storage));
        }
    }

    public int MaxTokens { get; }
    /// <summary>How keys and values are stored.</summary>
    public KvCacheType Type { get; }
    /// <summary>Bytes held by the keys and values of every layer.</summary>
    public long ByteSize => _k.Sum(t => t.ByteLength) + _v.Sum(t => t.ByteLength);
    /// <summary>Tokens already in the cache; the next token fed sits at this position.</summary>
    public int Length { get; private set; }

    /// <summary>Writes the keys/values of the new tokens (k, v [n, Hkv, Dh]) of a layer and returns views
    /// [1, Length + n, Hkv, Dh] over everything cached for that layer (for q8_0: u8 [1, Length + n, Hkv, Dh/32·34]).
    /// Call <see cref="Advance"/> after the last layer.</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        int n = k.Shape[0];
        if (Length + n > MaxTokens) throw new InvalidOperationException($"KV cache full: {Length} + {n} tokens exceed {MaxTokens}");
        var be = Backend.Of(k);
        using (var dk = _k[layer].Slice(Length, n)) Store(be, k, dk);
        using (var dv = _v[layer].Slice(Length, n)) Store(be, v, dv);
        int total = Length + n;
        using var kk = _k[layer].Slice(0, total);
        using var vv = _v[layer].Slice(0, total);
        var s = new Shape(1, total, _k[layer].Shape[1], _k[layer].Shape[2]);
        return (kk.Reshape(s, track: true), vv.Reshape(s, track: true));
    }

    public void Advance(int n) => Length += n;

    public void Reset() => Length = 0;

    public void Dispose()
    {
        foreach (var t in _k) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }

    /// <summary>Copies (converting the dtype) or, for q8_0, quantizes the new rows into the cache. Head rows are whole
    /// blocks (Dh is a multiple of 32), so the rows' blocks side by side are the blocks of all their values in order:
    /// one call quantizes them, as ggml-cpu's <c>from_float</c> does row by row when llama.cpp stores the cache.</summary>
    private void Store(IBackend be, Tensor src, Tensor dst)
    {
        if (!Type.IsQ8_0)
        {
            be.Copy(src, dst);
            return;
        }
        if (src.DType != DType.F32) throw new ArgumentException($"a q8_0 KV cache quantizes f32 keys and values, got {src}");
        Q8Activations.QuantizeQ8_0(src.F32(), dst.U8());
    }

    private static void CheckQ8_0(IBackend be, LlamaConfig c)
    {
        if (be is not CpuBackend)
            throw new EngineException($"--kv-cache q8_0: the q8_0 cache is a CPU option; {be.Name} keeps its cache in {be.ActivationType.Name()} (use --kv-cache auto there)");
        if (c.HeadDim % GgmlTypes.QK != 0)
            throw new EngineException($"--kv-cache q8_0 stores each head's keys and values in blocks of {GgmlTypes.QK} values; this model's head dim is {c.HeadDim}, not a multiple of {GgmlTypes.QK} (use --kv-cache f16 or f32)");
    }
}
