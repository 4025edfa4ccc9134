namespace Engine.Distributed;

/// <summary>Which collectives all-reduce a list of tensors: a tensor of at least <c>directElements</c> elements is
/// reduced in place on its own; smaller ones are packed, in order, into a reused bucket of <c>bucketElements</c>
/// elements, one collective per filled bucket (DDP's gradient buckets, without the overlap with backward). The plan
/// depends only on the element counts, so every rank, given the same shapes, issues the same collectives in the same
/// order, as NCCL and MPI require.</summary>
internal static class BucketPlan
{
    /// <summary>The steps for tensors of <paramref name="counts"/> elements; empty tensors get none.</summary>
    public static List<BucketStep> Plan(IReadOnlyList<long> counts, int bucketElements, int directElements)
    {
        if (bucketElements < 1 || directElements < 1 || directElements > bucketElements)
            throw new ArgumentException($"bucket of {bucketElements} elements with direct tensors from {directElements}: expected 1 ≤ direct ≤ bucket");
        var steps = new List<BucketStep>();
        var packed = new List<BucketSlot>();
        int used = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            long n = counts[i];
            if (n < 0) throw new ArgumentOutOfRangeException(nameof(counts), $"tensor {i} has {n} elements");
            if (n == 0) continue;
            if (n >= directElements)
            {
                steps.Add(new BucketStep(i, [], 0));
                continue;
            }
            if (used + n > bucketElements) Flush();
            packed.Add(new BucketSlot(i, used, (int)n));
            used += (int)n;
        }
        Flush();
        return steps;

        void Flush()
        {
            if (used == 0) return;
            steps.Add(new BucketStep(null, packed.ToArray(), used));
            packed.Clear();
            used = 0;
        }
    }
}

/// <summary>One collective of a <see cref="BucketPlan"/>: tensor <see cref="Direct"/> in place, or the first
/// <see cref="PackedElements"/> elements of the bucket holding <see cref="Packed"/>.</summary>
internal sealed record BucketStep(int? Direct, IReadOnlyList<BucketSlot> Packed, int PackedElements);

/// <summary>Tensor <see cref="Tensor"/> (an index into the list reduced) at elements [Start, Start + Count) of the bucket.</summary>
internal readonly record struct BucketSlot(int Tensor, int Start, int Count);
