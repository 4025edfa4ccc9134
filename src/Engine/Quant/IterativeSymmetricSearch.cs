using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>make_q3_quants with do_rmse (ggml-quants.c; what quantize_row_q3_K_ref calls) for up to 128 groups of 16
/// values at once: symmetric levels l in [-nmax, nmax-1] stored as l + nmax, starting from the scale that maps the
/// largest-magnitude value to -nmax; then up to 5 passes that move one level at a time to x·Σwl²/Σwxl (w = x²) when
/// that improves (Σwxl)²/Σwl². A group's scale is Σwxl/Σwl² (0 for an all-zero group, whose levels are 0).
/// <para>Every step is done in fp32 in ggml's order of operations, so the levels and scales are bit-identical to the
/// one-group-at-a-time C loop. Lane g of a vector works on one group, 8 groups to a vector (a "chain"); each level
/// step depends on the one before it in its group, so the chains of a call are interleaved value by value to keep the
/// core busy while each one waits on its division (16 groups to an AVX-512 vector measured no faster on a Zen 4 core,
/// which splits 512-bit operations in two, than 8-group chains two at a time). A chain whose pass changed nothing would change nothing in
/// a further pass, so it stops there; that is ggml's per-group early exit for every group of the chain.</para></summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static class IterativeSymmetricSearch
{
    /// <summary>The most groups one <see cref="Scales"/> call takes: 8 q3_K blocks, 16 chains (4 blocks a call
    /// measured 1.1–1.3× slower, 1 block 1.3–2.2×).</summary>
    public const int MaxGroups = 128;

    private const int N = 16;

    /// <summary>Searches the groups of <paramref name="x"/> (16 values each, one after another; a multiple of 8 groups,
    /// at most <see cref="MaxGroups"/>). Group G's scale goes to scales[G]; the level (+nmax) of its value i to
    /// levels[128·(G / 8) + 8·i + G % 8], the layout the search keeps them in.</summary>
    public static unsafe void Scales(ReadOnlySpan<float> x, int nmax, Span<float> scales, Span<float> levels)
    {
        int chains = x.Length / (8 * N);
        if (x.Length % (8 * N) != 0 || chains < 1 || chains > MaxGroups / 8 || scales.Length < 8 * chains || levels.Length < x.Length)
            throw new ArgumentException("expected 8 to 128 groups of 16 values, a multiple of 8");
        // Per chain k, value i: xt[N·k + i] holds value i of each of its 8 groups, wt = x², wxt = w·x (ggml's
        // w*x[i]*l is (w*x[i])*l), lt the current levels.
        var xt = stackalloc Vector256<float>[MaxGroups * N / 8];
        var wt = stackalloc Vector256<float>[MaxGroups * N / 8];
        var wxt = stackalloc Vector256<float>[MaxGroups * N / 8];
        var lt = stackalloc Vector256<float>[MaxGroups * N / 8];
        var sumlx = stackalloc Vector256<float>[MaxGroups / 8];
        var suml2 = stackalloc Vector256<float>[MaxGroups / 8];
        var changed = stackalloc Vector256<float>[MaxGroups / 8];
        var zero = stackalloc Vector256<float>[MaxGroups / 8];
        var lo = Vector256.Create((float)-nmax);
        var hi = Vector256.Create((float)(nmax - 1));
        fixed (float* px = x)
        {
            for (int k = 0; k < chains; k++)
            {
                var (max, amax) = Transpose(px + 8 * N * k, xt + N * k, wt + N * k, wxt + N * k);
                zero[k] = Vector256.LessThan(amax, Vector256.Create(KQuantSearch.GroupMaxEps));
                var iscale = Vector256.Create((float)-nmax) / max;
                var slx = Vector256<float>.Zero;
                var sl2 = Vector256<float>.Zero;
                for (int i = 0; i < N; i++)
                {
                    var l = Vector256.Min(hi, Vector256.Max(lo, Vector256.Round(iscale * xt[N * k + i])));
                    lt[N * k + i] = l;
                    slx += wxt[N * k + i] * l;
                    sl2 += wt[N * k + i] * l * l;
                }
                sumlx[k] = slx;
                suml2[k] = sl2;
            }
        }

        int active = (1 << chains) - 1;
        for (int attempt = 0; attempt < 5 && active != 0; attempt++)
        {
            for (int k = 0; k < chains; k++) changed[k] = Vector256<float>.Zero;
            for (int i = 0; i < N; i++)
            {
                for (int k = 0; k < chains; k++)
                {
                    if ((active & (1 << k)) == 0) continue;
                    int at = N * k + i;
                    var take = Step(xt[at], wt[at], wxt[at], ref lt[at], ref sumlx[k], ref suml2[k], nmax);
                    changed[k] |= take;
                }
            }
            for (int k = 0; k < chains; k++)
                if (changed[k] == Vector256<float>.Zero) active &= ~(1 << k);
        }

        var offset = Vector256.Create((float)nmax);
        fixed (float* ps = scales, pl = levels)
        {
            for (int k = 0; k < chains; k++)
            {
                var scale = Vector256.ConditionalSelect(Vector256.GreaterThan(suml2[k], Vector256<float>.Zero), sumlx[k] / suml2[k], Vector256<float>.Zero);
                Vector256.ConditionalSelect(zero[k], Vector256<float>.Zero, scale).Store(ps + 8 * k);
                for (int i = 0; i < N; i++)
                    Vector256.ConditionalSelect(zero[k], Vector256<float>.Zero, lt[N * k + i] + offset).Store(pl + 8 * N * k + 8 * i);
            }
        }
    }

    /// <summary>One level step of a pass for the 8 groups of a chain: with value i's level taken out of the sums, the
    /// level nearest x·Σwl²/Σwxl (clamped) replaces it when Σwxl &gt; 0 and it raises (Σwxl)²/Σwl². Returns the lanes
    /// that took their new level.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> x, Vector256<float> w, Vector256<float> wx, ref Vector256<float> level,
        ref Vector256<float> sumlx, ref Vector256<float> suml2, int nmax)
    {
        var li = level;
        var slx = sumlx - wx * li;
        var sl2 = suml2 - w * li * li;
        // ggml's nearest_int bit for bit, also outside the range where it rounds (|v| > 4194303, infinities, NaN;
        // x·Σwl²/Σwxl can get there when Σwxl is tiny): the low mantissa bits of v + 1.5·2^23 less 2^22, as the C
        // code computes it with asserts off; then clamped.
        var q = x * sl2 / slx;
        var bits = ((q + Vector256.Create(12582912f)).AsInt32() & Vector256.Create(0x007fffff)) - Vector256.Create(0x00400000);
        var newL = Vector256.ConvertToSingle(Vector256.Min(Vector256.Create(nmax - 1), Vector256.Max(Vector256.Create(-nmax), bits)));
        var tryIt = Vector256.GreaterThan(slx, Vector256<float>.Zero) & ~Vector256.Equals(newL, li);
        slx += wx * newL;
        sl2 += w * newL * newL;
        var take = tryIt & Vector256.GreaterThan(sl2, Vector256<float>.Zero) & Vector256.GreaterThan(slx * slx * suml2, sumlx * sumlx * sl2);
        level = Vector256.ConditionalSelect(take, newL, li);
        sumlx = Vector256.ConditionalSelect(take, slx, sumlx);
        suml2 = Vector256.ConditionalSelect(take, sl2, suml2);
        return take;
    }

    /// <summary>The 8 groups of 16 values at <paramref name="x"/> transposed: xt[i] = value i of each group, wt = x²,
    /// wxt = w·x; per lane the largest magnitude (amax) and the signed value that has it (max; the first on ties, as
    /// ggml's strict &gt;).</summary>
    private static unsafe (Vector256<float> Max, Vector256<float> Amax) Transpose(float* x, Vector256<float>* xt, Vector256<float>* wt, Vector256<float>* wxt)
    {
        var max = Vector256<float>.Zero;
        var amax = Vector256<float>.Zero;
        var index = Vector256.Create(0, N, 2 * N, 3 * N, 4 * N, 5 * N, 6 * N, 7 * N);
        for (int i = 0; i < N; i++)
        {
            var v = Avx2.IsSupported
                ? Avx2.GatherVector256(x + i, index, 4)
                : Vector256.Create(x[i], x[N + i], x[2 * N + i], x[3 * N + i], x[4 * N + i], x[5 * N + i], x[6 * N + i], x[7 * N + i]);
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
}
