using System.Runtime.InteropServices;
using Engine.Quant;

namespace Engine.Formats;

/// <summary>Little-endian stored elements to fp32, for the plain (non-block) element types of weight files.</summary>
internal static class RawValues
{
    /// <summary>Converts <paramref name="src"/> (exactly dst.Length elements of <paramref name="dtype"/>) to fp32.</summary>
    public static void ToFloats(SafeTensorsDType dtype, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (dtype.Name)
        {
            case "F32": src.CopyTo(MemoryMarshal.AsBytes(dst)); break;
            case "F16": HalfRows.FromF16(src, dst); break;
            case "BF16": HalfRows.FromBF16(src, dst); break;
            case "F64": Convert(MemoryMarshal.Cast<byte, double>(src), dst, v => (float)v); break;
            case "I64": Convert(MemoryMarshal.Cast<byte, long>(src), dst, v => v); break;
            case "U64": Convert(MemoryMarshal.Cast<byte, ulong>(src), dst, v => v); break;
            case "I32": Convert(MemoryMarshal.Cast<byte, int>(src), dst, v => v); break;
            case "U32": Convert(MemoryMarshal.Cast<byte, uint>(src), dst, v => v); break;
            case "I16": Convert(MemoryMarshal.Cast<byte, short>(src), dst, v => v); break;
            case "U16": Convert(MemoryMarshal.Cast<byte, ushort>(src), dst, v => v); break;
            case "I8": Convert(MemoryMarshal.Cast<byte, sbyte>(src), dst, v => v); break;
            case "U8": Convert(src, dst, v => v); break;
            case "BOOL": Convert(src, dst, v => v != 0 ? 1f : 0f); break;
            default: throw new NotSupportedException($"no fp32 conversion for {dtype.Name}");
        }
    }

    private static void Convert<T>(ReadOnlySpan<T> src, Span<float> dst, Func<T, float> f)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = f(src[i]);
    }
}
