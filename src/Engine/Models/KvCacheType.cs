using Engine.Quant;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>How a <see cref="KvCache"/> stores keys and values: in a float tensor dtype (f32, bf16, f16), or as ggml
/// q8_0 blocks (llama.cpp's <c>--cache-type-k/-v q8_0</c>: per 32 values an f16 scale and 32 int8 codes, 34 bytes)
/// held in a u8 tensor whose last dimension is a head's blocks. A DType converts to the type that stores it.</summary>
internal readonly record struct KvCacheType
{
    private KvCacheType(DType storage, bool q8_0)
    {
        Storage = storage;
        IsQ8_0 = q8_0;
    }

    /// <summary>ggml q8_0 blocks (CPU only; the head dim must be a multiple of 32).</summary>
    public static KvCacheType Q8_0 { get; } = new(DType.U8, true);

    public static implicit operator KvCacheType(DType t) =>
        t.IsFloat() ? new(t, false) : throw new ArgumentException($"a KV cache holds floats or q8_0 blocks, not {t.Name()}");

    /// <summary>The dtype of the cache's tensors (u8 for q8_0 blocks).</summary>
    public DType Storage { get; }

    /// <summary>True for ggml q8_0 blocks.</summary>
    public bool IsQ8_0 { get; }

    /// <summary>The command-line name: f32, bf16, f16 or q8_0.</summary>
    public string Name => IsQ8_0 ? "q8_0" : Storage.Name();

    /// <summary>Elements of the cache's tensors per head row of <paramref name="headDim"/> values (bytes of blocks for q8_0).</summary>
    public int RowElements(int headDim) => IsQ8_0 ? headDim / GgmlTypes.QK * Q8Activations.Q8_0BlockBytes : headDim;

    public override string ToString() => Name;
}
