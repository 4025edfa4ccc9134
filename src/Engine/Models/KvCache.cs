using Engine.Backends;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>Keys and values of every layer for one sequence (batch 1), [maxT, Hkv, Dh] each, filled as tokens are fed.
/// Stored in the backend's activation dtype, or in f16 where asked (half the memory; llama.cpp's default cache type).</summary>
internal sealed class KvCache : IDisposable
{
    private readonly Tensor[] _k, _v;

    /// <param name="dtype">the cache's element type; null: the backend's activation dtype.</param>
    public KvCache(IBackend be, LlamaConfig c, int maxTokens, DType? dtype = null)
    {
        MaxTokens = maxTokens;
        DType = dtype ?? be.ActivationType;
        _k = new Tensor[c.NumLayers];
        _v = new Tensor[c.NumLayers];
        var shape = new Shape(maxTokens, c.NumKvHeads, c.HeadDim);
        for (int i = 0; i < c.NumLayers; i++)
        {
            _k[i] = TensorScope.Unscoped(() => be.Zeros(shape, DType));
            _v[i] = TensorScope.Unscoped(() => be.Zeros(shape, DType));
        }
    }

    public int MaxTokens { get; }
    public DType DType { get; }
    /// <summary>Bytes held by the keys and values of every layer.</summary>
    public long ByteSize => _k.Sum(t => t.ByteLength) + _v.Sum(t => t.ByteLength);
    /// <summary>Tokens already in the cache; the next token fed sits at this position.</summary>
    public int Length { get; private set; }

    /// <summary>Writes the keys/values of the new tokens (k, v [n, Hkv, Dh]) of a layer and returns views
    /// [1, Length + n, Hkv, Dh] over everything cached for that layer. Call <see cref="Advance"/> after the last layer.</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        int n = k.Shape[0];
        if (Length + n > MaxTokens) throw new InvalidOperationException($"KV cache full: {Length} + {n} tokens exceed {MaxTokens}");
        var be = Backend.Of(k);
        using (var dk = _k[layer].Slice(Length, n)) be.Copy(k, dk);
        using (var dv = _v[layer].Slice(Length, n)) be.Copy(v, dv);
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
}
