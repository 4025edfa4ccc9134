using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>The bucket plan of an all-reduce: a worked example step by step, and on random shapes a host simulation of
/// two ranks run through the plan (pack, sum the buckets, unpack) against the plain elementwise sum.</summary>
public sealed class BucketPlanTests
{
    [Fact]
    public void Small_tensors_share_buckets_in_order_and_large_ones_go_alone()
    {
        var steps = BucketPlan.Plan([3, 0, 10, 2, 4, 1], bucketElements: 8, directElements: 5);
        Assert.Equal(3, steps.Count);
        Assert.Equal(2, steps[0].Direct);
        Assert.Empty(steps[0].Packed);
        Assert.Null(steps[1].Direct);
        Assert.Equal([new BucketSlot(0, 0, 3), new BucketSlot(3, 3, 2)], steps[1].Packed);
        Assert.Equal(5, steps[1].PackedElements);
        Assert.Equal([new BucketSlot(4, 0, 4), new BucketSlot(5, 4, 1)], steps[2].Packed);
        Assert.Equal(5, steps[2].PackedElements);
    }

    [Fact]
    public void A_tensor_that_exactly_fills_the_rest_of_a_bucket_joins_it()
    {
        var steps = BucketPlan.Plan([4, 4, 1], bucketElements: 8, directElements: 8);
        Assert.Equal(2, steps.Count);
        Assert.Equal([new BucketSlot(0, 0, 4), new BucketSlot(1, 4, 4)], steps[0].Packed);
        Assert.Equal([new BucketSlot(2, 0, 1)], steps[1].Packed);
        Assert.Empty(BucketPlan.Plan([0, 0], 8, 8));
    }

    [Theory]
    [InlineData(1, 8, 5)]
    [InlineData(2, 16, 16)]
    [InlineData(3, 64, 7)]
    [InlineData(4, 1, 1)]
    public void Two_simulated_ranks_through_the_plan_get_the_elementwise_sums(int seed, int bucket, int direct)
    {
        var rng = new Random(seed);
        int n = 40;
        var counts = Enumerable.Range(0, n).Select(_ => (long)(rng.Next(4) == 0 ? 0 : rng.Next(1, 2 * bucket + 1))).ToArray();
        var a = counts.Select(c => Enumerable.Range(0, (int)c).Select(_ => (float)rng.Next(-1000, 1000)).ToArray()).ToArray();
        var b = counts.Select(c => Enumerable.Range(0, (int)c).Select(_ => (float)rng.Next(-1000, 1000)).ToArray()).ToArray();
        var expected = a.Zip(b, (x, y) => x.Zip(y, (p, q) => p + q).ToArray()).ToArray();

        var steps = BucketPlan.Plan(counts, bucket, direct);
        var seen = new int[n];
        var bucketA = new float[bucket];
        var bucketB = new float[bucket];
        foreach (var step in steps)
        {
            if (step.Direct is int d)
            {
                Assert.True(counts[d] >= direct, $"tensor {d} of {counts[d]} elements went alone");
                seen[d]++;
                for (int i = 0; i < counts[d]; i++) a[d][i] = b[d][i] = a[d][i] + b[d][i];
                continue;
            }
            Assert.InRange(step.PackedElements, 1, bucket);
            Array.Fill(bucketA, float.NaN);
            Array.Fill(bucketB, float.NaN);
            int next = 0;
            foreach (var slot in step.Packed)
            {
                Assert.Equal(next, slot.Start); // contiguous, in order, from the bucket's start
                Assert.Equal(counts[slot.Tensor], slot.Count);
                Assert.True(slot.Count < direct, $"tensor {slot.Tensor} of {slot.Count} elements was packed");
                seen[slot.Tensor]++;
                a[slot.Tensor].CopyTo(bucketA, slot.Start);
                b[slot.Tensor].CopyTo(bucketB, slot.Start);
                next += slot.Count;
            }
            Assert.Equal(step.PackedElements, next);
            for (int i = 0; i < step.PackedElements; i++) bucketA[i] = bucketB[i] = bucketA[i] + bucketB[i];
            foreach (var slot in step.Packed)
            {
                bucketA.AsSpan(slot.Start, slot.Count).CopyTo(a[slot.Tensor]);
                bucketB.AsSpan(slot.Start, slot.Count).CopyTo(b[slot.Tensor]);
            }
        }
        for (int t = 0; t < n; t++)
        {
            Assert.Equal(counts[t] == 0 ? 0 : 1, seen[t]);
            Assert.Equal(expected[t], a[t]);
            Assert.Equal(expected[t], b[t]);
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(8, 0)]
    [InlineData(8, 9)]
    public void Impossible_sizes_are_rejected(int bucket, int direct) =>
        Assert.Throws<ArgumentException>(() => BucketPlan.Plan([1], bucket, direct));
}
