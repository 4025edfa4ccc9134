using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>ZeRO-1's ownership: contiguous groups in list order, balanced by element count, the same on every call.
/// Hand-worked cases pin the rule (the rank whose equal share holds a tensor's midpoint); random lists check the
/// invariants against a brute-force reference, the best contiguous split (the smallest largest group).</summary>
public class ZeroPartitionTests
{
    [Fact]
    public void Hand_worked_lists_split_where_the_midpoints_fall()
    {
        // Four equal tensors on two ranks: midpoints 1, 3, 5, 7 of 8, shares [0, 4) and [4, 8).
        Assert.Equal([0, 0, 1, 1], ZeroPartition.Owners([2, 2, 2, 2], 2));
        // 10, 1, 1, 1, 1 (14): midpoints 5, 10.5, 11.5, 12.5, 13.5; the share of rank 0 is [0, 7).
        Assert.Equal([0, 1, 1, 1, 1], ZeroPartition.Owners([10, 1, 1, 1, 1], 2));
        // Three ranks, 9 elements, shares of 3: midpoints 0.5, 2, 4.5, 6.5, 8.5.
        Assert.Equal([0, 0, 1, 2, 2], ZeroPartition.Owners([1, 2, 3, 1, 2], 3));
        // One huge tensor among small ones: a rank may own nothing rather than split a tensor.
        Assert.Equal([0, 1, 3, 3], ZeroPartition.Owners([1, 100, 1, 1], 4));
        // A world of one owns everything; empty lists and all-empty tensors are allowed.
        Assert.Equal([0, 0, 0], ZeroPartition.Owners([5, 0, 7], 1));
        Assert.Empty(ZeroPartition.Owners([], 3));
        Assert.Equal([0, 0], ZeroPartition.Owners([0, 0], 2));
        Assert.Equal([5L, 11L, 0L, 0L], ZeroPartition.Loads([2, 3, 4, 7], [0, 0, 1, 1], 4));
    }

    [Fact]
    public void Random_lists_give_contiguous_groups_within_one_tensor_of_an_equal_share_and_near_the_best_split()
    {
        var rng = new Random(14);
        for (int trial = 0; trial < 400; trial++)
        {
            int n = rng.Next(1, 40), size = rng.Next(1, 9);
            var counts = Enumerable.Range(0, n).Select(_ => (long)(rng.Next(4) == 0 ? rng.Next(1, 5000) : rng.Next(0, 300))).ToArray();
            var owners = ZeroPartition.Owners(counts, size);
            Assert.Equal(owners, ZeroPartition.Owners(counts.ToArray(), size)); // a pure function
            for (int i = 0; i < n; i++)
            {
                Assert.InRange(owners[i], 0, size - 1);
                if (i > 0) Assert.True(owners[i] >= owners[i - 1], $"trial {trial}: owners not contiguous: {string.Join(",", owners)}");
            }
            var loads = ZeroPartition.Loads(counts, owners, size);
            long total = counts.Sum(), largest = counts.Max();
            Assert.Equal(total, loads.Sum());
            foreach (var load in loads)
                Assert.True(Math.Abs(load * size - total) <= largest * size,
                            $"trial {trial}: a group of {load} is more than the largest tensor ({largest}) from {total}/{size}");
            // Never worse than the best contiguous split by more than one tensor.
            Assert.True(loads.Max() <= BestLargestGroup(counts, size) + largest, $"trial {trial}: largest group {loads.Max()}");
        }
    }

    [Fact]
    public void Element_counts_of_a_70B_model_do_not_overflow()
    {
        var counts = Enumerable.Repeat(8192L * 28672, 240).Append(128256L * 8192).ToArray();
        var owners = ZeroPartition.Owners(counts, 64);
        Assert.Equal(0, owners[0]);
        Assert.Equal(63, owners[^1]);
        var loads = ZeroPartition.Loads(counts, owners, 64);
        // 3.82 projections' worth per rank: every rank holds 3 or 4 projections, the last one the embedding (4.47).
        Assert.All(loads, l => Assert.InRange(l, 3L * 8192 * 28672, 128256L * 8192));
        Assert.Equal(counts.Sum(), loads.Sum());
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ZeroPartition.Owners([1, 2], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ZeroPartition.Owners([1, -2], 2));
        Assert.Throws<ArgumentException>(() => ZeroPartition.Loads([1, 2], [0], 2));
    }

    /// <summary>The smallest possible largest group of a split of <paramref name="counts"/> into at most
    /// <paramref name="size"/> contiguous groups (dynamic programming over every cut).</summary>
    private static long BestLargestGroup(long[] counts, int size)
    {
        int n = counts.Length;
        var prefix = new long[n + 1];
        for (int i = 0; i < n; i++) prefix[i + 1] = prefix[i] + counts[i];
        var best = new long[n + 1];
        for (int i = 1; i <= n; i++) best[i] = prefix[i];
        for (int k = 2; k <= size; k++)
        {
            var next = new long[n + 1];
            for (int i = 1; i <= n; i++)
            {
                next[i] = best[i];
                for (int j = 1; j < i; j++) next[i] = Math.Min(next[i], Math.Max(best[j], prefix[i] - prefix[j]));
            }
            best = next;
        }
        return n == 0 ? 0 : best[n];
    }
}
