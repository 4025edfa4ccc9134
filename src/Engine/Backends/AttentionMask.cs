using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Which keys a query may see beyond causality: packed samples (<see cref="SegmentStarts"/>) and a sliding
/// window (<see cref="Window"/>). Query t of a row sits at absolute position p = t + (Tk − Tq) and attends keys j with
/// max(segStart[t], p − W + 1) ≤ j ≤ p; segStart is 0 without segments, the window term is dropped when W = 0.
/// Nothing [T, T] is ever materialized: backends test the two bounds per key.</summary>
/// <param name="SegmentStarts">I32 [B·Tq]: for each query, the index in its row where its sample starts; null when every
/// row is one sample. Needs Tq = Tk (no KV cache), and within a row each start is ≤ its own index and never decreases
/// (samples are contiguous), which lets tiled kernels skip whole key tiles.</param>
/// <param name="Window">Keys at most W − 1 positions behind the query are seen (Mistral/Qwen sliding window); 0 = unlimited.</param>
internal sealed record AttentionMask(Tensor? SegmentStarts, int Window)
{
    /// <summary>Plain causal attention.</summary>
    public static AttentionMask Causal { get; } = new(null, 0);

    /// <summary>A window-only mask (the KV-cache case); <see cref="Causal"/> for 0.</summary>
    public static AttentionMask ForWindow(int window) => window == 0 ? Causal : new AttentionMask(null, window);

    public bool IsCausal => SegmentStarts is null && Window == 0;

    /// <summary>The first key query <paramref name="t"/> (row index) sees, given its segment start (0 without segments)
    /// and the offset Tk − Tq.</summary>
    public static int FirstKey(int t, int segmentStart, int offset, int window) =>
        window > 0 ? Math.Max(segmentStart, t + offset - window + 1) : segmentStart;

    /// <summary>Checks the mask against an attention call's sizes (not the start values; see <see cref="CheckStarts"/>).</summary>
    public void CheckShape(int batch, int tq, int tk)
    {
        if (Window < 0) throw new ArgumentException($"attention mask: the window must be ≥ 0 (0 = unlimited), got {Window}");
        if (SegmentStarts is null) return;
        if (SegmentStarts.DType != DType.I32 || SegmentStarts.NumElements != (long)batch * tq)
            throw new ArgumentException($"attention mask: segment starts must be I32 [{batch * tq}] (one per query), got {SegmentStarts}");
        if (tq != tk)
            throw new ArgumentException($"attention mask: segment starts need as many keys as queries (no KV cache), got Tq {tq}, Tk {tk}");
    }

    /// <summary>Checks segment starts laid out [rows, time]: each is within [0, t] and none is below the one before it
    /// in its row. Throws naming the first offending token.</summary>
    public static void CheckStarts(ReadOnlySpan<int> starts, int time)
    {
        for (int i = 0; i < starts.Length; i++)
        {
            int t = i % time, s = starts[i];
            if (s < 0 || s > t || (t > 0 && s < starts[i - 1]))
                throw new ArgumentException($"attention mask: segment start {s} of token {t} in row {i / time} is not in [previous start, {t}]");
        }
    }
}
