using System.Runtime.Intrinsics;

namespace Engine.Quant;

/// <summary>The scale searches ggml's k-quant reference quantizers share (ggml-quants.c). Every step is done in fp32
/// in ggml's order of operations, so the chosen integers and scales are bit-identical.</summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class KQuantSearch
{
    /// <summary>ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this counts as all zero.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>ggml's nearest_int: round half to even (its 1.5·2^23 trick, exact for |v| &lt;= 4194303).</summary>
    public static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);

    /// <summary>The transposed start of the symmetric searches: xt[i] = value i of each of the 8 groups (n values per
    /// group, groups one after another in <paramref name="x"/>), the x² weights wt and wxt = w·x (ggml's w*x[i]*l is
    /// (w*x[i])*l), and per lane the largest magnitude (amax) and the signed value that has it (max; the first on ties,
    /// as ggml's strict &gt;).</summary>
    private static unsafe (Vector256<float> Max, Vector256<float> Amax) TransposeSymmetric(ReadOnlySpan<float> x, int n,
        Vector256<float>* xt, Vector256<float>* wt, Vector256<float>* wxt)
    {
        var max = Vector256<float>.Zero;
        var amax = Vector256<float>.Zero;
        var lanes = stackalloc float[8];
        for (int i = 0; i < n; i++)
        {
            for (int g = 0; g < 8; g++) lanes[g] = x[n * g + i];
            var v = Vector256.Load(lanes);
            xt[i] = v;
            var ax = Vector256.Abs(v);
            var bigger = Vector256.GreaterThan(ax, amax);
            amax = Vector256.ConditionalSelect(bigger, ax, amax);
            max = Vector256.ConditionalSelect(bigger, v, max);
            var w = v * v;
            wt[i] = w;
            wxt[i] = w * v;
        }
        return (max, amax);
    }

    /// <summary>make_qx_quants with rmse_type 1 and no importance weights (what quantize_row_q6_K_ref calls), for 8
    /// groups of 16 values at once: symmetric levels l in [-nmax, nmax-1] stored as l + nmax in
    /// <paramref name="levels"/>; each group starts from the scale that maps its largest-magnitude value to -nmax, then
    /// tries 18 nearby scales -(nmax ± 0.1·is)/max and keeps the one with the best x²-weighted least-squares fit. Its
    /// scale goes to <paramref name="scales"/> (0 for an all-zero group). Lane g of each vector works on group g, so
    /// every group's sums are still added one value at a time in ggml's order and the result is bit-identical to the
    /// one-group-at-a-time C loop. x holds the 8 groups one after another (128 values).</summary>
    public static unsafe void SymmetricScales8(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels, Span<float> scales)
    {
        const int n = 16;
        if (x.Length != 8 * n || levels.Length < 8 * n || scales.Length < 8) throw new ArgumentException("expected 8 groups of 16 values");
        // Transposed: xt[i] holds value i of each of the 8 groups.
        var xt = stackalloc Vector256<float>[n];
        var wt = stackalloc Vector256<float>[n];
        var wxt = stackalloc Vector256<float>[n];
        var (max, amax) = TransposeSymmetric(x, n, xt, wt, wxt);
        var lanes = stackalloc float[8];
        var lo = Vector256.Create((float)-nmax);
        var hi = Vector256.Create((float)(nmax - 1));

        var iscale = Vector256.Create((float)-nmax) / max;
        Sums(xt, wt, wxt, iscale, lo, hi, out var sumlx, out var suml2);
        var bestIscale = iscale;
        var scale = Vector256.ConditionalSelect(Vector256.Equals(suml2, Vector256<float>.Zero), Vector256<float>.Zero, sumlx / suml2);
        var best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = Vector256.Create(-(nmax + 0.1f * step)) / max;
            Sums(xt, wt, wxt, iscale, lo, hi, out sumlx, out suml2);
            var better = Vector256.GreaterThan(suml2, Vector256<float>.Zero) & Vector256.GreaterThan(sumlx * sumlx, best * suml2);
            var thisScale = sumlx / suml2;
            scale = Vector256.ConditionalSelect(better, thisScale, scale);
            best = Vector256.ConditionalSelect(better, thisScale * sumlx, best);
            bestIscale = Vector256.ConditionalSelect(better, iscale, bestIscale);
        }

        var zero = Vector256.LessThan(amax, Vector256.Create(GroupMaxEps));
        Vector256.ConditionalSelect(zero, Vector256<float>.Zero, scale).Store(lanes);
        for (int g = 0; g < 8; g++) scales[g] = lanes[g];
        var offset = Vector256.Create((float)nmax);
        for (int i = 0; i < n; i++)
        {
            var l = Vector256.Min(hi, Vector256.Max(lo, Vector256.Round(bestIscale * xt[i]))) + offset;
            Vector256.ConditionalSelect(zero, Vector256<float>.Zero, l).Store(lanes);
            for (int g = 0; g < 8; g++) levels[n * g + i] = (sbyte)(int)lanes[g];
        }
    }

    /// <summary>Per lane: l = clamp(nearest_int(iscale·x), -nmax, nmax-1), Σ w·x·l and Σ w·l·l in index order.</summary>
    private static unsafe void Sums(Vector256<float>* xt, Vector256<float>* wt, Vector256<float>* wxt, Vector256<float> iscale,
        Vector256<float> lo, Vector256<float> hi, out Vector256<float> sumlx, out Vector256<float> suml2)
    {
        sumlx = Vector256<float>.Zero;
        suml2 = Vector256<float>.Zero;
        for (int i = 0; i < 16; i++)
        {
            // Clamping the rounded value to integer bounds equals rounding the clamped one, and keeps it exact.
            var l = Vector256.Min(hi, Vector256.Max(lo, Vector256.Round(iscale * xt[i])));
            sumlx += wxt[i] * l;
            suml2 += wt[i] * l * l;
        }
    }

    /// <summary>make_qkx2_quants for 8 groups of <paramref name="n"/> values at once (n ≤ 32; x and weights hold the
    /// groups one after another): affine levels in [0, nmax] with x ≈ scale·l - theMin (min clamped to ≤ 0, so theMin
    /// ≥ 0). Starts from the min/max fit, then tries nstep+1 scales (rmin + rdelta·is + nmax)/(max - min), solving the
    /// weighted least-squares scale and min for each, and keeps the one with the least weighted squared error (use_mad
    /// false, as the q4_K/q5_K reference quantizers call it) or absolute error (<paramref name="useMad"/>, as
    /// quantize_row_q2_K_ref calls it). Each group's scale, min and levels go to <paramref name="scales"/>,
    /// <paramref name="mins"/> and <paramref name="levels"/>. Lane g of each vector works on group g in ggml's order of
    /// operations (its min moves with each improving step, as in the C loop), so the result is bit-identical to the
    /// one-group-at-a-time search.</summary>
    public static unsafe void AffineScales8(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, int n, int nmax, Span<byte> levels,
        Span<float> scales, Span<float> mins, float rmin, float rdelta, int nstep, bool useMad)
    {
        if (n > 32 || x.Length != 8 * n || weights.Length != 8 * n || levels.Length < 8 * n || scales.Length < 8 || mins.Length < 8)
            throw new ArgumentException("expected 8 groups of at most 32 values");
        var xt = stackalloc Vector256<float>[n];
        var wt = stackalloc Vector256<float>[n];
        var lanes = stackalloc float[8];
        for (int i = 0; i < n; i++)
        {
            for (int g = 0; g < 8; g++) lanes[g] = x[n * g + i];
            xt[i] = Vector256.Load(lanes);
            for (int g = 0; g < 8; g++) lanes[g] = weights[n * g + i];
            wt[i] = Vector256.Load(lanes);
        }
        var min = xt[0];
        var max = xt[0];
        var sumW = wt[0];
        var sumX = sumW * xt[0];
        for (int i = 1; i < n; i++)
        {
            min = Vector256.ConditionalSelect(Vector256.LessThan(xt[i], min), xt[i], min);
            max = Vector256.ConditionalSelect(Vector256.GreaterThan(xt[i], max), xt[i], max);
            sumW += wt[i];
            sumX += wt[i] * xt[i];
        }
        min = Vector256.ConditionalSelect(Vector256.GreaterThan(min, Vector256<float>.Zero), Vector256<float>.Zero, min);
        var flat = Vector256.Equals(max, min);
        var flatMin = min;
        var top = Vector256.Create((float)nmax);
        var iscale = top / (max - min);
        var scale = Vector256<float>.One / iscale;
        var bestIscale = iscale;
        var bestLevelMin = min;
        var bestError = Vector256<float>.Zero;
        for (int i = 0; i < n; i++)
        {
            var l = Vector256.Min(top, Vector256.Max(Vector256<float>.Zero, Vector256.Round(iscale * (xt[i] - min))));
            var diff = scale * l + min - xt[i];
            bestError += wt[i] * (useMad ? Vector256.Abs(diff) : diff * diff);
        }
        var lt = stackalloc Vector256<float>[n];
        for (int step = 0; step <= nstep; step++)
        {
            iscale = Vector256.Create(rmin + rdelta * step + nmax) / (max - min);
            var sumL = Vector256<float>.Zero;
            var sumL2 = Vector256<float>.Zero;
            var sumXL = Vector256<float>.Zero;
            for (int i = 0; i < n; i++)
            {
                var l = Vector256.Min(top, Vector256.Max(Vector256<float>.Zero, Vector256.Round(iscale * (xt[i] - min))));
                lt[i] = l;
                var wl = wt[i] * l;
                sumL += wl;
                sumL2 += wl * l;
                sumXL += wl * xt[i];
            }
            var d = sumW * sumL2 - sumL * sumL;
            var thisScale = (sumW * sumXL - sumX * sumL) / d;
            var thisMin = (sumL2 * sumX - sumL * sumXL) / d;
            var positive = Vector256.GreaterThan(thisMin, Vector256<float>.Zero);
            thisMin = Vector256.ConditionalSelect(positive, Vector256<float>.Zero, thisMin);
            thisScale = Vector256.ConditionalSelect(positive, sumXL / sumL2, thisScale);
            var error = Vector256<float>.Zero;
            for (int i = 0; i < n; i++)
            {
                var diff = thisScale * lt[i] + thisMin - xt[i];
                error += wt[i] * (useMad ? Vector256.Abs(diff) : diff * diff);
            }
            var better = Vector256.GreaterThan(d, Vector256<float>.Zero) & Vector256.LessThan(error, bestError);
            bestIscale = Vector256.ConditionalSelect(better, iscale, bestIscale);
            bestLevelMin = Vector256.ConditionalSelect(better, min, bestLevelMin);
            bestError = Vector256.ConditionalSelect(better, error, bestError);
            scale = Vector256.ConditionalSelect(better, thisScale, scale);
            min = Vector256.ConditionalSelect(better, thisMin, min);
        }
        Vector256.ConditionalSelect(flat, Vector256<float>.Zero, scale).Store(lanes);
        for (int g = 0; g < 8; g++) scales[g] = lanes[g];
        (-Vector256.ConditionalSelect(flat, flatMin, min)).Store(lanes);
        for (int g = 0; g < 8; g++) mins[g] = lanes[g];
        for (int i = 0; i < n; i++)
        {
            var l = Vector256.Min(top, Vector256.Max(Vector256<float>.Zero, Vector256.Round(bestIscale * (xt[i] - bestLevelMin))));
            Vector256.ConditionalSelect(flat, Vector256<float>.Zero, l).Store(lanes);
            for (int g = 0; g < 8; g++) levels[n * g + i] = (byte)(int)lanes[g];
        }
    }
}
