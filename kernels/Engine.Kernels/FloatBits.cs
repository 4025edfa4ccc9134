using ILGPU;

namespace Engine.Kernels;

/// <summary>bf16 and fp16 bit conversions usable inside kernels (no BitConverter, which ILGPU cannot compile).
/// Each one gives exactly the bits of its host counterpart: <c>Engine.Tensors.HalfConversions</c> for bf16 and
/// <see cref="System.Half"/> for fp16, NaN payloads included; tests check this.</summary>
internal static class FloatBits
{
    public static float BF16ToFloat(ushort h) => Interop.IntAsFloat((uint)h << 16);

    /// <summary>Round to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort FloatToBF16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0) return (ushort)((u >> 16) | 0x40);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    public static float F16ToFloat(ushort h)
    {
        uint sign = (uint)(h & 0x8000) << 16;
        uint exp = (uint)(h >> 10) & 0x1Fu;
        uint man = h & 0x3FFu;
        if (exp == 0x1F)
            return Interop.IntAsFloat(sign | 0x7F800000u | (man != 0 ? 0x400000u : 0u) | (man << 13));
        if (exp == 0)
        {
            // Subnormal halves are man·2^-24, exact in fp32.
            float mag = man * 5.9604644775390625e-8f;
            return sign != 0 ? -mag : mag;
        }
        return Interop.IntAsFloat(sign | ((exp + 112u) << 23) | (man << 13));
    }

    /// <summary>Round to nearest even, as <c>(Half)f</c> does.</summary>
    public static ushort FloatToF16(float f)
    {
        uint u = Interop.FloatAsInt(f);
        uint sign = (u >> 16) & 0x8000u;
        uint a = u & 0x7FFFFFFFu;
        if (a >= 0x7F800000u) return (ushort)(a > 0x7F800000u ? sign | 0x7E00u | ((a >> 13) & 0x3FFu) : sign | 0x7C00u);
        if (a >= 0x477FF000u) return (ushort)(sign | 0x7C00u); // 65520 and up round to infinity
        if (a < 0x38800000u)
        {
            // Below the smallest normal half: adding 0.5 makes the FPU round the value to a multiple of 2^-24
            // (the half subnormal step) with round-to-nearest-even; the low mantissa bits are then the result.
            float r = Interop.IntAsFloat(a) + 0.5f;
            return (ushort)(sign | (Interop.FloatAsInt(r) - 0x3F000000u));
        }
        uint odd = (a >> 13) & 1u;
        a += 0xC8000FFFu; // rebias the exponent from 127 to 15 (wrapping add of (15-127)<<23) plus the rounding bias
        a += odd;
        return (ushort)(sign | (a >> 13));
    }
}
