using System.Globalization;

namespace Engine.Quant;

/// <summary>
/// bitsandbytes' 8-bit "dynamic" code map (<c>create_dynamic_map</c> in bitsandbytes/functional.py), the code that
/// double quantization stores the NF4 absmax values in. Built the way bnb builds it, in torch's fp32 arithmetic:
/// for each exponent i, <c>torch.linspace(0.1, 1, k)</c> (fp32), bin means (b[j] + b[j+1]) / 2, scaled by the fp32
/// value of 10^(i - (maxExponentBits - 1)) and mirrored for the signed map; then 0 and 1.0; sorted.
/// </summary>
internal static class DynamicQuantMap
{
    private static readonly float[] SignedMap = Create(signed: true);

    /// <summary>The 256 sorted values of <c>create_dynamic_map(signed=True)</c>: code[0] ≈ -0.993, code[127] = 0,
    /// code[128] = 5.5e-7, code[255] = 1.0. Saved by bitsandbytes as <c>weight.nested_quant_map</c>.</summary>
    public static ReadOnlySpan<float> Signed => SignedMap;

    /// <summary>A fresh map with bitsandbytes' parameters (padded with zeros to 256 entries, then sorted, as bnb does).</summary>
    public static float[] Create(bool signed = true, int maxExponentBits = 7, int totalBits = 8)
    {
        if (totalBits < 2 || totalBits > 8) throw new ArgumentOutOfRangeException(nameof(totalBits), totalBits, "must be 2..8");
        int nonSignBits = totalBits - 1; // bnb reserves this bit for unsigned maps too
        if (maxExponentBits < 1 || maxExponentBits > nonSignBits)
            throw new ArgumentOutOfRangeException(nameof(maxExponentBits), maxExponentBits, $"must be 1..{nonSignBits}");

        var data = new List<float>(256);
        for (int i = 0; i < maxExponentBits; i++)
        {
            int shift = i + nonSignBits - maxExponentBits + (signed ? 0 : 1);
            AddScaledMeans(data, (1 << shift) + 1, i, maxExponentBits, signed);
        }
        int additionalItems = (1 << (nonSignBits - maxExponentBits)) - 1;
        // bnb reuses the loop variable here, i.e. the last exponent.
        if (additionalItems > 0) AddScaledMeans(data, additionalItems + 1, maxExponentBits - 1, maxExponentBits, signed);
        data.Add(0f);
        data.Add(1f);
        if (data.Count != 1 << totalBits)
            throw new ArgumentException($"parameters give {data.Count} values, not {1 << totalBits} (bitsandbytes asserts this)");
        while (data.Count < 256) data.Add(0f);
        data.Sort();
        return data.ToArray();
    }

    private static void AddScaledMeans(List<float> data, int boundaryCount, int i, int maxExponentBits, bool signed)
    {
        var boundaries = TorchLinspace(0.1f, 1f, boundaryCount);
        // Python evaluates 10 ** -k as a double; torch then multiplies the fp32 tensor by that scalar cast to fp32.
        float scale = (float)double.Parse("1e" + (i - (maxExponentBits - 1)).ToString(CultureInfo.InvariantCulture),
            CultureInfo.InvariantCulture);
        for (int j = 0; j + 1 < boundaries.Length; j++)
        {
            float mean = (boundaries[j] + boundaries[j + 1]) / 2f;
            data.Add(scale * mean);
        }
        if (!signed) return;
        for (int j = 0; j + 1 < boundaries.Length; j++)
        {
            float mean = (boundaries[j] + boundaries[j + 1]) / 2f;
            data.Add(-scale * mean);
        }
    }

    /// <summary>torch.linspace on CPU in fp32 (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp): the first half
    /// counts up from start, the second half down from end, with step = (end - start) / (steps - 1) in fp32. The
    /// x86-64 wheels run this kernel from their AVX2 build, where the compiler fuses <c>start + step * idx</c> into an
    /// FMA; the map matches torch bit for bit only with the fused form (42 of 256 values differ without it).</summary>
    internal static float[] TorchLinspace(float start, float end, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "must be positive");
        var result = new float[steps];
        if (steps == 1)
        {
            result[0] = start;
            return result;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int idx = 0; idx < steps; idx++)
            result[idx] = idx < halfway
                ? MathF.FusedMultiplyAdd(step, idx, start)
                : MathF.FusedMultiplyAdd(-step, steps - idx - 1, end);
        return result;
    }
}
