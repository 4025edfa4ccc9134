namespace Engine.Distributed;

/// <summary>Which rank owns which trainable tensor under ZeRO-1 (optimizer states sharded across ranks): the list, in
/// its order, cut into <c>size</c> contiguous groups of about equal element counts. Tensor i goes to the rank whose
/// equal share of the elements, [r·T/size, (r + 1)·T/size), holds its midpoint, so every group differs from T/size by
/// less than the largest tensor, and a rank may own nothing when a few tensors are larger than a share. A pure function
/// of the element counts and the world size (integer arithmetic only): every rank computes the same owners.</summary>
internal static class ZeroPartition
{
    /// <summary>The owning rank of each tensor of <paramref name="counts"/> elements, non-decreasing along the list.</summary>
    public static int[] Owners(IReadOnlyList<long> counts, int size)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"the world size must be at least 1, got {size}");
        Int128 total = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            if (counts[i] < 0) throw new ArgumentOutOfRangeException(nameof(counts), $"tensor {i} has {counts[i]} elements");
            total += counts[i];
        }
        var owners = new int[counts.Count];
        if (total == 0) return owners;
        Int128 before = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            // The midpoint before + n/2 lies in rank r's share when r ≤ (2·before + n)·size / (2·total) < r + 1.
            var r = (2 * before + counts[i]) * size / (2 * total);
            owners[i] = (int)Int128.Min(r, size - 1);
            before += counts[i];
        }
        return owners;
    }

    /// <summary>Elements owned by each rank under <paramref name="owners"/> (what its AdamW moments hold, twice).</summary>
    public static long[] Loads(IReadOnlyList<long> counts, IReadOnlyList<int> owners, int size)
    {
        if (counts.Count != owners.Count) throw new ArgumentException($"{counts.Count} tensors but {owners.Count} owners");
        var loads = new long[size];
        for (int i = 0; i < counts.Count; i++) loads[owners[i]] += counts[i];
        return loads;
    }
}
