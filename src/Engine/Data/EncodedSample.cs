namespace Engine.Data;

/// <summary>A tokenized sample. <see cref="Labels"/> is aligned with <see cref="InputIds"/> (HF convention):
/// Labels[i] = InputIds[i] where token i is learned, else <see cref="IgnoreIndex"/>. Labels[0] (BOS) is always ignored.
/// The shift to next-token targets happens in <see cref="TrainingSequence.FromSample(EncodedSample)"/>.</summary>
internal sealed class EncodedSample
{
    public const int IgnoreIndex = -100;

    public EncodedSample(int[] inputIds, int[] labels, int sampleIndex, bool truncated = false)
    {
        if (inputIds.Length != labels.Length) throw new ArgumentException("input ids and labels differ in length");
        InputIds = inputIds;
        Labels = labels;
        SampleIndex = sampleIndex;
        Truncated = truncated;
    }

    public int[] InputIds { get; }
    public int[] Labels { get; }
    /// <summary>The <see cref="Sample.Index"/> this came from.</summary>
    public int SampleIndex { get; }
    /// <summary>True when the sample was cut to the maximum length.</summary>
    public bool Truncated { get; }
    public int Length => InputIds.Length;

    public int LearnedCount => CountLearned(Labels);

    /// <summary>Entries that are not <see cref="IgnoreIndex"/>.</summary>
    public static int CountLearned(ReadOnlySpan<int> labels) => labels.Length - labels.Count(IgnoreIndex);
}

/// <summary>What <see cref="SampleEncoder.EncodeAll"/> did.</summary>
/// <param name="DroppedNoLearnedTokens">Samples left with no learned token after truncation (not trained on).</param>
/// <param name="Truncated">Kept samples that were cut to the maximum length.</param>
/// <param name="Tokens">Tokens in kept samples.</param>
/// <param name="LearnedTokens">Learned tokens (labels ≠ -100) in kept samples.</param>
internal sealed record EncodeStats(int Samples, int Kept, int DroppedNoLearnedTokens, int Truncated, long Tokens, long LearnedTokens, int LongestSample);
