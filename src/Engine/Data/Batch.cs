namespace Engine.Data;

/// <summary>A padded batch, row-major [BatchSize, SeqLen]. Rows are right-padded with the pad id and −100 targets;
/// with causal attention real tokens never attend to the padding that follows them, so one-sample rows need no mask.
/// When a row packs several samples, <see cref="SegmentStarts"/> keeps them apart (the padding is a segment of its own).</summary>
internal sealed class Batch
{
    public Batch(int[] inputIds, int[] targets, int batchSize, int seqLen, int[] lengths, LoaderPosition position, int[]? segmentStarts = null)
    {
        if (segmentStarts is not null && segmentStarts.Length != inputIds.Length)
            throw new ArgumentException($"segment starts hold {segmentStarts.Length} entries for {inputIds.Length} tokens");
        SegmentStarts = segmentStarts;
        InputIds = inputIds;
        Targets = targets;
        BatchSize = batchSize;
        SeqLen = seqLen;
        Lengths = lengths;
        Position = position;
        LearnedTokens = EncodedSample.CountLearned(targets);
    }

    /// <summary>[B*T] token ids.</summary>
    public int[] InputIds { get; }
    /// <summary>[B*T] next-token targets, already shifted: Targets[b*T + t] is what position t of row b must predict,
    /// −100 where there is no loss. Pass straight to a per-position cross-entropy.</summary>
    public int[] Targets { get; }
    public int BatchSize { get; }
    public int SeqLen { get; }
    /// <summary>[B*T] per token, the index in its row where its sample starts (positions count from there and attention
    /// stays inside); null when every row is a single sample.</summary>
    public int[]? SegmentStarts { get; }
    /// <summary>Unpadded length of each row.</summary>
    public int[] Lengths { get; }
    /// <summary>Targets ≠ −100: divide the summed loss by this for the mean.</summary>
    public int LearnedTokens { get; }
    /// <summary>The loader position this batch was taken from.</summary>
    public LoaderPosition Position { get; }

    /// <summary>Rows [<paramref name="start"/>, start + count) of this batch (clipped to its rows; possibly none), padded
    /// to the longest of them: one data-parallel rank's share of a global micro-batch. A token's inputs, targets and
    /// segment are those it had here, so its loss is unchanged (right padding is never attended by real tokens).</summary>
    public Batch Rows(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int from = Math.Min(start, BatchSize), n = Math.Min(count, BatchSize - from);
        int t = 0;
        for (int i = 0; i < n; i++) t = Math.Max(t, Lengths[from + i]);
        var ids = new int[n * t];
        var targets = new int[n * t];
        var starts = SegmentStarts is null ? null : new int[n * t];
        for (int i = 0; i < n; i++)
        {
            int src = (from + i) * SeqLen, len = Lengths[from + i];
            InputIds.AsSpan(src, t).CopyTo(ids.AsSpan(i * t, t));
            Targets.AsSpan(src, t).CopyTo(targets.AsSpan(i * t, t));
            if (starts is null) continue;
            SegmentStarts!.AsSpan(src, len).CopyTo(starts.AsSpan(i * t, len));
            starts.AsSpan(i * t + len, t - len).Fill(len);
        }
        return new Batch(ids, targets, n, t, Lengths.AsSpan(from, n).ToArray(), Position, starts);
    }

    /// <summary>Pads <paramref name="rows"/> to the longest of them.</summary>
    public static Batch Collate(IReadOnlyList<TrainingSequence> rows, int padId, LoaderPosition position)
    {
        int b = rows.Count, t = 0;
        foreach (var r in rows) t = Math.Max(t, r.Length);
        var ids = new int[b * t];
        var targets = new int[b * t];
        var lengths = new int[b];
        ids.AsSpan().Fill(padId);
        targets.AsSpan().Fill(EncodedSample.IgnoreIndex);
        var starts = rows.Any(r => r.SegmentStarts is not null) ? new int[b * t] : null;
        for (int i = 0; i < b; i++)
        {
            var r = rows[i];
            r.InputIds.CopyTo(ids, i * t);
            r.Targets.CopyTo(targets, i * t);
            lengths[i] = r.Length;
            if (starts is null) continue;
            r.SegmentStarts?.CopyTo(starts, i * t); // one-sample rows keep 0
            starts.AsSpan(i * t + r.Length, t - r.Length).Fill(r.Length);
        }
        return new Batch(ids, targets, b, t, lengths, position, starts);
    }
}
