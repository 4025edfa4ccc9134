using Engine.Tensors;

namespace Engine.Data;

/// <summary>--eval-split: holds out a seeded random subset of samples (split before encoding and packing, so no
/// evaluation text leaks into training windows). Both parts keep file order.</summary>
internal static class EvalSplit
{
    /// <param name="fraction">In (0, 1): the eval part gets round(n·fraction) samples, at least 1 and at most n−1.</param>
    public static (List<Sample> Train, List<Sample> Eval) Split(IReadOnlyList<Sample> samples, double fraction, ulong seed)
    {
        var isEval = Mask(samples.Count, fraction, seed);
        var train = new List<Sample>(samples.Count);
        var eval = new List<Sample>();
        for (int i = 0; i < samples.Count; i++) (isEval[i] ? eval : train).Add(samples[i]);
        return (train, eval);
    }

    /// <summary>Which of <paramref name="n"/> samples (in file order) are held out.</summary>
    public static bool[] Mask(int n, double fraction, ulong seed)
    {
        if (!(fraction > 0 && fraction < 1))
            throw new EngineException($"--eval-split must be a fraction between 0 and 1 (exclusive), got {fraction}");
        if (n < 2) throw new EngineException($"--eval-split needs at least 2 samples to hold some out, the data has {n}");
        int evalCount = Math.Clamp((int)Math.Round(n * fraction, MidpointRounding.AwayFromZero), 1, n - 1);

        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        new Rng(seed ^ 0x5EEDE7A15A1DUL).Shuffle(order);
        var isEval = new bool[n];
        for (int i = 0; i < evalCount; i++) isEval[order[i]] = true;
        return isEval;
    }
}
