using System.Runtime.CompilerServices;

namespace Engine.Quant;

/// <summary>The NF4 (4-bit NormalFloat) data type exactly as bitsandbytes defines it.</summary>
internal static class Nf4
{
    /// <summary>The 16 code values, index = 4-bit code: bitsandbytes <c>get_4bit_type("nf4")</c> (saved as
    /// <c>weight.quant_map</c>) and the CUDA <c>nf4_dequantization_lut</c>. Asymmetric: 7 negative, exact 0, 8 positive.</summary>
    public static ReadOnlySpan<float> CodeValues =>
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>The decision thresholds of bitsandbytes' <c>dQuantizeNF4</c> (midpoints of adjacent code values, as
    /// fp32 literals). The code of a scaled value x is the number of thresholds x is strictly greater than, so a
    /// value exactly on a threshold takes the lower code and NaN takes code 0.</summary>
    public static ReadOnlySpan<float> Thresholds =>
    [
        -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
        -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
        0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
        0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f,
    ];

    /// <summary>The largest gap between adjacent code values (between -1 and -0.6962): a block's worst-case
    /// rounding error is half of this times its absmax.</summary>
    public static float MaxCodeGap => 1.0f - 0.6961928009986877f;

    /// <summary>The 4-bit code of an already scaled value x = w · (1/absmax).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Encode(float x)
    {
        var t = Thresholds;
        int code = 0;
        for (int i = 0; i < t.Length; i++) code += x > t[i] ? 1 : 0;
        return code;
    }

    /// <summary>The value a 4-bit code stands for, before scaling by the block's absmax.</summary>
    public static float Decode(int code) => CodeValues[code & 0xF];
}
