namespace Engine.Data;

/// <summary>One row of a batch before padding: input ids and next-token targets of the same length.
/// Targets[t] is the token the model must predict at position t from positions ≤ t, i.e. the label of position t+1
/// (−100 = no loss). The shift is done here, once, so the loss is a plain per-position cross-entropy.</summary>
internal sealed class TrainingSequence
{
    public TrainingSequence(int[] inputIds, int[] targets)
    {
        if (inputIds.Length != targets.Length) throw new ArgumentException("input ids and targets differ in length");
        InputIds = inputIds;
        Targets = targets;
        LearnedCount = EncodedSample.CountLearned(targets);
    }

    public int[] InputIds { get; }
    public int[] Targets { get; }
    public int Length => InputIds.Length;
    /// <summary>Targets that carry loss.</summary>
    public int LearnedCount { get; }

    /// <summary>targets[t] = labels[t+1]; the last position has no next token and gets −100.</summary>
    public static TrainingSequence FromSample(EncodedSample sample)
    {
        int n = sample.Length;
        var targets = new int[n];
        Array.Copy(sample.Labels, 1, targets, 0, n - 1);
        if (n > 0) targets[n - 1] = EncodedSample.IgnoreIndex;
        return new TrainingSequence(sample.InputIds, targets);
    }

    public static List<TrainingSequence> FromSamples(IEnumerable<EncodedSample> samples) => samples.Select(FromSample).ToList();
}
