using Engine.Tensors;

namespace Engine.Models;

/// <summary>Sampling settings. Temperature 0 is greedy (argmax, first index on ties); TopK 0 and TopP 1 disable those filters.</summary>
internal sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0f;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public ulong Seed { get; init; } = 42;
}

/// <summary>Picks the next token from a row of logits on the host.</summary>
internal sealed class Sampler
{
    private readonly SamplingOptions _o;
    private readonly Rng _rng;

    public Sampler(SamplingOptions options)
    {
        if (options.Temperature < 0) throw new EngineException($"--temperature must be >= 0, got {options.Temperature}");
        if (options.TopK < 0) throw new EngineException($"--top-k must be >= 0, got {options.TopK}");
        if (!(options.TopP > 0 && options.TopP <= 1)) throw new EngineException($"--top-p must be in (0, 1], got {options.TopP}");
        _o = options;
        _rng = new Rng(options.Seed);
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    public int Next(ReadOnlySpan<float> logits)
    {
        if (_o.Temperature == 0f) return ArgMax(logits);
        int v = logits.Length;
        var idx = new int[v];
        for (int i = 0; i < v; i++) idx[i] = i;
        var l = logits.ToArray();
        // Sort descending by logit (stable on index) so top-k and top-p cut the same prefix.
        Array.Sort(idx, (a, b) => l[b] != l[a] ? l[b].CompareTo(l[a]) : a.CompareTo(b));
        int keep = _o.TopK > 0 ? Math.Min(_o.TopK, v) : v;
        double max = l[idx[0]];
        var p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) { p[i] = Math.Exp((l[idx[i]] - max) / _o.Temperature); sum += p[i]; }
        if (_o.TopP < 1f)
        {
            double cum = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++)
            {
                cum += p[i] / sum;
                if (cum >= _o.TopP) { cut = i + 1; break; }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) sum += p[i];
        }
        double r = _rng.NextDouble() * sum;
        for (int i = 0; i < keep; i++)
        {
            r -= p[i];
            if (r < 0) return idx[i];
        }
        return idx[keep - 1];
    }
}
