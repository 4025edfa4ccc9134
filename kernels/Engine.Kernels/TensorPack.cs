using ILGPU;

namespace Engine.Kernels;

/// <summary>One tensor's entry in a <see cref="TensorPack32{T}"/>: its element count.</summary>
internal interface ISegment
{
    long Length { get; }
}

/// <summary>A list of up to <see cref="Capacity"/> per-tensor records passed by value as one kernel argument, the way
/// apex's multi_tensor_apply packs tensor addresses into the kernel's parameters: ILGPU kernels cannot read a table of
/// device pointers from device memory, but a struct of views is an ordinary argument (its views become pointers in
/// the parameter space on PTX). Built from pairs so that the capacity is a type, not 32 hand-written fields.</summary>
internal interface IPack<T> where T : struct
{
    int Capacity { get; }
    T Get(int i);
    void Set(int i, T value);
}

internal struct Pack1<T> : IPack<T> where T : struct
{
    public T Item;
    public readonly int Capacity => 1;
    public readonly T Get(int i) => Item;
    public void Set(int i, T value) => Item = value;
}

internal struct PackPair<T, THalf> : IPack<T> where T : struct where THalf : struct, IPack<T>
{
    public THalf Low;
    public THalf High;
    public readonly int Capacity => 2 * default(THalf).Capacity;
    public readonly T Get(int i)
    {
        int half = default(THalf).Capacity;
        return i < half ? Low.Get(i) : High.Get(i - half);
    }
    public void Set(int i, T value)
    {
        int half = default(THalf).Capacity;
        if (i < half) Low.Set(i, value);
        else High.Set(i - half, value);
    }
}

/// <summary>32 records: 32 AdamW records of 80 bytes (four views, a count and a decay) make a 2.6 KB argument, inside
/// CUDA's 4 KB kernel parameter limit with room for the scalars.</summary>
internal struct TensorPack32<T> : IPack<T> where T : struct
{
    public const int Size = 32;
    public PackPair<T, PackPair<T, PackPair<T, PackPair<T, PackPair<T, Pack1<T>>>>>> Items;
    public readonly int Capacity => Size;
    public readonly T Get(int i) => Items.Get(i);
    public void Set(int i, T value) => Items.Set(i, value);
}

/// <summary>Walks a pack's tensors as one flat index space [0, Σ lengths) in increasing order (a grid-stride loop's
/// order), so one launch spreads its threads over all tensors by size; zero-length records are stepped over.</summary>
internal struct PackCursor<T> where T : struct, ISegment
{
    private readonly TensorPack32<T> _pack;
    private int _index;
    private long _start;

    public PackCursor(TensorPack32<T> pack)
    {
        _pack = pack;
        _index = 0;
        _start = 0;
        Current = pack.Get(0);
    }

    /// <summary>The record that holds the flat index last passed to <see cref="Seek"/>.</summary>
    public T Current;

    /// <summary>Moves to the record holding <paramref name="flat"/> (never behind the last one) and returns the index
    /// inside that record.</summary>
    public long Seek(long flat)
    {
        while (flat >= _start + Current.Length)
        {
            _start += Current.Length;
            Current = _pack.Get(++_index);
        }
        return flat - _start;
    }
}

/// <summary>A tensor to add up: its bytes and element count.</summary>
internal struct SumSegment : ISegment
{
    public ArrayView<byte> X;
    public long N;
    public readonly long Length => N;
}
