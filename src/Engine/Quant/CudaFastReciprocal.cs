using System.IO.Compression;

namespace Engine.Quant;

/// <summary>
/// Bit-exact model of <c>1.0f / x</c> as bitsandbytes' CUDA kernels compute it. bitsandbytes is built with
/// <c>--use_fast_math</c> (its CMakeLists.txt), so the reciprocal that <c>kQuantizeBlockwise</c> scales each block by
/// is the approximate <c>MUFU.RCP</c> instruction with flush-to-zero, not IEEE division: for 13.2% of mantissas it is
/// one ulp away from the correctly rounded value. Without this, a few codes per large matrix would differ from bnb.
/// </summary>
/// <remarks>The per-mantissa deltas were measured on an H200 (sm_90) with Resources/measure-cuda-rcp.cu, which also
/// checked that the delta depends on the mantissa alone. Other NVIDIA generations are assumed to match.</remarks>
internal static class CudaFastReciprocal
{
    private const string ResourceName = "Engine.Quant.cuda-rcp-approx-delta.br";
    private const int TableBytes = 1 << 21; // 2^23 mantissas x 2 bits

    private static readonly Lazy<byte[]> Table = new(LoadTable, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The reciprocal a fast-math CUDA kernel produces for x (denormal inputs and outputs flush to zero).</summary>
    public static float Reciprocal(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint exponent = (bits >> 23) & 0xFF;
        if (exponent == 0) return (bits & 0x80000000u) != 0 ? float.NegativeInfinity : float.PositiveInfinity;
        float r = 1.0f / x;
        if (exponent == 0xFF) return r; // 1/inf = 0, NaN stays NaN
        if (float.Abs(r) < Nf4Quantizer.FltMin) return (bits & 0x80000000u) != 0 ? -0.0f : 0.0f;
        uint m = bits & 0x7FFFFF;
        int delta = (Table.Value[m >> 2] >> (int)((m & 3) * 2)) & 3;
        if (delta == 0) return r;
        uint rb = BitConverter.SingleToUInt32Bits(r);
        return BitConverter.UInt32BitsToSingle(delta == 1 ? rb + 1 : rb - 1);
    }

    private static byte[] LoadTable()
    {
        using var stream = typeof(CudaFastReciprocal).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from the Engine assembly");
        using var brotli = new BrotliStream(stream, CompressionMode.Decompress);
        var table = new byte[TableBytes];
        brotli.ReadExactly(table);
        if (brotli.ReadByte() != -1) throw new InvalidOperationException($"{ResourceName}: longer than {TableBytes} bytes");
        return table;
    }
}
