using ILGPU;

namespace Engine.Kernels;

/// <summary>How a kernel reads and writes one element type of a tensor passed as raw bytes. Kernels are generic over
/// these structs, so each combination of dtypes compiles to its own specialised kernel with no run-time dtype branch,
/// while every kernel keeps one delegate signature (all tensors are <c>ArrayView&lt;byte&gt;</c>).</summary>
internal interface IElement
{
    float Load(ArrayView<byte> data, long index);
    void Store(ArrayView<byte> data, long index, float value);
}

internal readonly struct F32Elem : IElement
{
    public float Load(ArrayView<byte> data, long index) => data.Cast<float>()[index];
    public void Store(ArrayView<byte> data, long index, float value) => data.Cast<float>()[index] = value;
}

/// <summary>bf16 stored as ushort (ILGPU has no bf16 type); stores round to nearest even.</summary>
internal readonly struct BF16Elem : IElement
{
    public float Load(ArrayView<byte> data, long index) => FloatBits.BF16ToFloat(data.Cast<ushort>()[index]);
    public void Store(ArrayView<byte> data, long index, float value) => data.Cast<ushort>()[index] = FloatBits.FloatToBF16(value);
}

internal readonly struct F16Elem : IElement
{
    public float Load(ArrayView<byte> data, long index) => FloatBits.F16ToFloat(data.Cast<ushort>()[index]);
    public void Store(ArrayView<byte> data, long index, float value) => data.Cast<ushort>()[index] = FloatBits.FloatToF16(value);
}

/// <summary>Integers through a float: used by Fill and by reading I32 tensors as floats (the CPU backend's rules:
/// a float is truncated toward zero).</summary>
internal readonly struct I32Elem : IElement
{
    public float Load(ArrayView<byte> data, long index) => data.Cast<int>()[index];
    public void Store(ArrayView<byte> data, long index, float value) => data.Cast<int>()[index] = (int)value;
}

internal readonly struct U8Elem : IElement
{
    public float Load(ArrayView<byte> data, long index) => data[index];
    public void Store(ArrayView<byte> data, long index, float value) => data[index] = (byte)(int)value;
}
