namespace Engine.Quant;

/// <summary>
/// Double quantization of NF4 block scales (bitsandbytes <c>quantize_4bit(compress_statistics=True)</c>):
/// offset = mean(absmax) in fp32, then <c>quantize_blockwise(absmax - offset, blocksize=256)</c> with the signed
/// dynamic map, giving one byte per NF4 block, one fp32 scale per 256 blocks and one fp32 offset per tensor.
/// Dequantized absmax = fl(code[q] · nestedAbsmax[block / 256]) + offset, two fp32 roundings (bnb dequantizes the
/// 8-bit values, then adds the offset as a separate tensor op).
/// </summary>
internal static class Nf4DoubleQuant
{
    public const int NestedBlockSize = 256;

    public static (byte[] Codes, float[] NestedAbsmax, float Offset) Quantize(ReadOnlySpan<float> absmax)
    {
        float offset = Fp32Mean(absmax);
        var shifted = new float[absmax.Length];
        for (int i = 0; i < shifted.Length; i++) shifted[i] = absmax[i] - offset;
        var (codes, nested) = BlockwiseQuant8.Quantize(shifted, DynamicQuantMap.Signed, NestedBlockSize);
        return (codes, nested, offset);
    }

    /// <summary>Dequantizes the scales of NF4 blocks [firstBlock, firstBlock + output.Length).</summary>
    public static void DequantizeAbsmax(ReadOnlySpan<byte> codes, ReadOnlySpan<float> nestedAbsmax, float offset,
        ReadOnlySpan<float> codeMap, int nestedBlockSize, int firstBlock, Span<float> output)
    {
        if (codeMap.Length != 256) throw new ArgumentException($"the nested code map has 256 values, got {codeMap.Length}");
        if (firstBlock < 0 || firstBlock + output.Length > codes.Length)
            throw new ArgumentException($"blocks {firstBlock}..{firstBlock + output.Length - 1} are outside the " +
                $"{codes.Length} absmax codes");
        int lastNested = output.Length == 0 ? 0 : (firstBlock + output.Length - 1) / nestedBlockSize;
        if (output.Length > 0 && lastNested >= nestedAbsmax.Length)
            throw new ArgumentException($"block {firstBlock + output.Length - 1} needs nested absmax {lastNested}, " +
                $"only {nestedAbsmax.Length} present");
        for (int i = 0; i < output.Length; i++)
        {
            int b = firstBlock + i;
            float scaled = codeMap[codes[b]] * nestedAbsmax[b / nestedBlockSize];
            output[i] = scaled + offset;
        }
    }

    /// <summary>
    /// The fp32 mean bnb takes with <c>absmax.mean()</c>. On CUDA torch sums in fp32 in a device-dependent tree order
    /// and multiplies by fl(1/n); that order cannot be reproduced on the host, so the sum here is exact-ish (fp64)
    /// and rounded once, then multiplied by fl(1/n) as torch does. It matched torch's CUDA mean on an H200 for every
    /// Llama-shaped weight tried, and for 147 of 200 random vectors (the rest differ by an ulp or so, which changes
    /// an 8-bit absmax code only when a value sits within about an ulp of a code midpoint).
    /// </summary>
    public static float Fp32Mean(ReadOnlySpan<float> values)
    {
        if (values.Length == 0) return float.NaN;
        double sum = 0;
        foreach (float v in values) sum += v;
        float factor = 1f / values.Length;
        return (float)sum * factor;
    }
}
