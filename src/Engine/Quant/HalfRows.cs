using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Engine.Tensors;

namespace Engine.Quant;

/// <summary>Rows of fp32 to and from little-endian fp16/bf16 bytes, as stored in GGUF and safetensors.
/// Both directions round to nearest even, the same as <see cref="HalfConversions"/> and ggml's GGML_FP32_TO_FP16.</summary>
internal static class HalfRows
{
    public static void ToF16(ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckLengths(src.Length, dst.Length);
        // TensorPrimitives vectorizes the conversion; the result equals a per-element (Half) cast.
        TensorPrimitives.ConvertToHalf(src, MemoryMarshal.Cast<byte, Half>(dst));
    }

    public static void FromF16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckLengths(dst.Length, src.Length);
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
    }

    public static void ToBF16(ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckLengths(src.Length, dst.Length);
        HalfConversions.FloatToBF16(src, MemoryMarshal.Cast<byte, ushort>(dst));
    }

    public static void FromBF16(ReadOnlySpan<byte> src, Span<float> dst)
    {
        CheckLengths(dst.Length, src.Length);
        HalfConversions.BF16ToFloat(MemoryMarshal.Cast<byte, ushort>(src), dst);
    }

    private static void CheckLengths(int floats, int bytes)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("fp16/bf16 rows assume a little-endian host");
        if ((long)floats * 2 != bytes)
            throw new ArgumentException($"{floats} values need {(long)floats * 2} bytes of fp16/bf16, got {bytes}");
    }
}
