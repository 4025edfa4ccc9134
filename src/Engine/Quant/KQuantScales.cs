using System.Runtime.CompilerServices;
using Engine.Tensors;

namespace Engine.Quant;

/// <summary>Unpacks the packed sub-block scales of the k-quant blocks with 32-bit word operations (as ggml's dot
/// kernels do with their kmask constants), for <see cref="KQuantDot"/>: the 12-byte 6-bit scale fields of q3_K and
/// of q4_K/q5_K, and the blocks' fp16 fields.</summary>
internal static unsafe class KQuantScales
{
    private const uint Low2 = 0x03030303, Low4 = 0x0F0F0F0F, Low6 = 0x3F3F3F3F;

    /// <summary>The 16 q3_K scales, each 0..63 (the stored sc; the signed scale is sc - 32), as 16 bytes in
    /// <paramref name="a"/>..<paramref name="d"/> (little-endian, scale g in byte g). Scale g's low nibble is byte g
    /// (g &lt; 8) or the high nibble of byte g - 8 of the 12; its top two bits are bits 2·(g / 4) of byte 8 + g % 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q3K(byte* packed, out uint a, out uint b, out uint c, out uint d)
    {
        uint w0 = Unsafe.ReadUnaligned<uint>(packed), w1 = Unsafe.ReadUnaligned<uint>(packed + 4), hi = Unsafe.ReadUnaligned<uint>(packed + 8);
        a = (w0 & Low4) | ((hi & Low2) << 4);
        b = (w1 & Low4) | (((hi >> 2) & Low2) << 4);
        c = ((w0 >> 4) & Low4) | (((hi >> 4) & Low2) << 4);
        d = ((w1 >> 4) & Low4) | (((hi >> 6) & Low2) << 4);
    }

    /// <summary>get_scale_min_k4 for all 8 sub-blocks of a q4_K/q5_K block at once: scales 0..3 in the bytes of
    /// <paramref name="sc0"/>, 4..7 in <paramref name="sc1"/>, mins likewise in <paramref name="m0"/>/<paramref name="m1"/>,
    /// each 0..63.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q4K(byte* packed, out uint sc0, out uint sc1, out uint m0, out uint m1)
    {
        uint w0 = Unsafe.ReadUnaligned<uint>(packed), w1 = Unsafe.ReadUnaligned<uint>(packed + 4), w2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        sc0 = w0 & Low6;
        m0 = w1 & Low6;
        sc1 = (w2 & Low4) | (((w0 >> 6) & Low2) << 4);
        m1 = ((w2 >> 4) & Low4) | (((w1 >> 6) & Low2) << 4);
    }
}
