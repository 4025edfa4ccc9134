using Engine.Backends;

namespace Engine.Data;

/// <summary>One row of a batch before padding: input ids and next-token targets of the same length.
/// Targets[t] is the token the model must predict at position t from positions ≤ t, i.e. the label of position t+1
/// (−100 = no loss). The shift is done here, once, so the loss is a plain per-position cross-entropy.
/// A packed row (<see cref="SequencePacker"/>) holds several samples; <see cref="SegmentStarts"/> says where each token's
/// sample starts, so that attention and positions stay inside it.</summary>
internal sealed class TrainingSequence
{
    public TrainingSequence(int[] inputIds, int[] targets, int[]? segmentStarts = null)
    {
        if (inputIds.Length != targets.Length) throw new ArgumentException("input ids and targets differ in length");
        if (segmentStarts is not null)
        {
            if (segmentStarts.Length != inputIds.Length) throw new ArgumentException("segment starts and input ids differ in length");
            AttentionMask.CheckStarts(segmentStarts, Math.Max(1, segmentStarts.Length));
        }
        InputIds = inputIds;
        Targets = targets;
        SegmentStarts = segmentStarts;
        LearnedCount = EncodedSample.CountLearned(targets);
    }

    public int[] InputIds { get; }
    public int[] Targets { get; }
    /// <summary>Per token, the index where its sample starts in this row; null when the row is one sample.</summary>
    public int[]? SegmentStarts { get; }
    public int Length => InputIds.Length;
    /// <summary>Targets that carry loss.</summary>
    public int LearnedCount { get; }

    /// <summary>targets[t] = labels[t+1]; the last position has no next token and gets −100.</summary>
    public static TrainingSequence FromSample(EncodedSample sample) => FromSample(sample, sample.Length);

    /// <summary>The first <paramref name="length"/> tokens of a sample (all of it when shorter), with targets from its
    /// labels: a cut sample's last kept token still learns the label that follows it.</summary>
    public static TrainingSequence FromSample(EncodedSample sample, int length)
    {
        int n = Math.Min(length, sample.Length);
        var ids = n == sample.Length ? sample.InputIds : sample.InputIds.AsSpan(0, n).ToArray();
        var targets = new int[n];
        for (int t = 0; t < n; t++) targets[t] = t + 1 < sample.Length ? sample.Labels[t + 1] : EncodedSample.IgnoreIndex;
        return new TrainingSequence(ids, targets);
    }

    public static List<TrainingSequence> FromSamples(IEnumerable<EncodedSample> samples) => samples.Select(s => FromSample(s)).ToList();
}
