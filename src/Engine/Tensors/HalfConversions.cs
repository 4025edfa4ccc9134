using System.Runtime.CompilerServices;

namespace Engine.Tensors;

/// <summary>bf16 and fp16 bit conversions (round to nearest even), shared by loaders, exporters and the CPU backend.</summary>
internal static class HalfConversions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort h) => BitConverter.Int32BitsToSingle(h << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBF16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7F800000) == 0x7F800000 && (u & 0x007FFFFF) != 0) return (ushort)((u >> 16) | 0x40); // quiet NaN
        u += 0x7FFF + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16ToFloat(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToF16(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    public static void BF16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = BF16ToFloat(src[i]);
    }

    public static void FloatToBF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = FloatToBF16(src[i]);
    }

    public static void F16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = F16ToFloat(src[i]);
    }

    public static void FloatToF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = FloatToF16(src[i]);
    }
}
