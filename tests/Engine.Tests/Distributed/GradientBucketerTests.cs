using Engine.Backends.Cpu;
using Engine.Distributed;
using Engine.Tensors;

namespace Engine.Tests.Distributed;

/// <summary><see cref="GradientBucketer"/> in one process, over a communicator that stands for two ranks holding the same
/// values (each sum doubles its tensor, when waited for). The buckets, worked out by hand from BucketPlan's rules for the
/// reversed list, start strictly in the order they complete in ready order, and only once all their gradients are final; each carries its gradients'
/// values; every gradient ends doubled. The real all-reduce against the blocking one, bit for bit across 2 and 3 Open MPI
/// ranks, is in <c>selftest --collectives</c> (MpiCollectivesTests).</summary>
public class GradientBucketerTests
{
    /// <summary>Parameters of 3, 4, 9, 2 and 5 elements in model order; element i of parameter p holds 10p + i + 1.</summary>
    private static List<Tensor> Parameters() =>
        new[] { 3, 4, 9, 2, 5 }.Select((n, p) => CpuBackend.Instance.FromFloats(
            Enumerable.Range(0, n).Select(i => 10f * p + i + 1).ToArray(), new Shape(n), DType.F32)).ToList();

    private static float[] Values(Tensor t) => t.F32().ToArray();

    [Fact]
    public void Buckets_start_in_plan_order_once_their_gradients_are_final_and_every_sum_comes_back()
    {
        var ps = Parameters();
        var original = ps.Select(Values).ToList();
        var comm = new OverlappingTwoEqualRanks((10, 8));
        using var bucketer = new GradientBucketer(comm, ps, t => t);
        // Ready order p4(5) p3(2) p2(9) p1(4) p0(3); buckets of 10, direct from 8: p4+p3 packed (flushed when p1 does
        // not fit), p2 alone in place, p1+p0 packed; they start in the order they complete in ready order: p4+p3, p2, p1+p0.
        Assert.Equal(3, bucketer.BucketCount);
        bucketer.BeginSync();
        bucketer.MarkReady(ps[2]);
        bucketer.MarkReady(ps[4]);
        Assert.Empty(comm.Started); // p2's bucket is complete, but p4+p3's must start first
        bucketer.MarkReady(ps[3]);
        Assert.Equal([7, 9], comm.Started.Select(s => s.Length));
        Assert.Equal(original[4].Concat(original[3]), comm.Started[0]);
        Assert.Equal(original[2], comm.Started[1]);
        bucketer.MarkReady(ps[0]);
        Assert.Equal(2, comm.Started.Count); // p1 is still missing from the last bucket
        Assert.Equal(0, comm.Waited);
        bucketer.FinishSync();
        Assert.Equal([7, 9, 7], comm.Started.Select(s => s.Length));
        Assert.Equal(original[1].Concat(original[0]), comm.Started[2]);
        Assert.Equal(3, comm.Waited);
        for (int p = 0; p < ps.Count; p++) Assert.Equal(original[p].Select(v => 2 * v), Values(ps[p]));
    }

    [Fact]
    public void A_rank_whose_backward_reports_nothing_issues_the_same_collectives_at_the_end()
    {
        var reporting = new OverlappingTwoEqualRanks((10, 8));
        var silent = new OverlappingTwoEqualRanks((10, 8));
        var a = Parameters();
        var b = Parameters();
        using (var bucketer = new GradientBucketer(reporting, a, t => t))
        {
            bucketer.BeginSync();
            foreach (var p in a.AsEnumerable().Reverse()) bucketer.MarkReady(p);
            bucketer.FinishSync();
        }
        using (var bucketer = new GradientBucketer(silent, b, t => t))
        {
            bucketer.BeginSync();
            bucketer.FinishSync();
        }
        Assert.Equal(reporting.Started.Count, silent.Started.Count);
        for (int i = 0; i < silent.Started.Count; i++) Assert.Equal(reporting.Started[i], silent.Started[i]);
        for (int p = 0; p < a.Count; p++) Assert.Equal(Values(a[p]), Values(b[p]));
    }

    [Fact]
    public void The_sizes_come_from_the_communicator_and_the_blocking_default_still_sums()
    {
        // Packing (100, 100): everything fits one bucket; the interface's default start sums before it returns.
        var comm = new TwoEqualRanks((100, 100));
        var ps = Parameters();
        var original = ps.Select(Values).ToList();
        using var bucketer = new GradientBucketer(comm, ps, t => t);
        Assert.Equal(1, bucketer.BucketCount);
        bucketer.BeginSync();
        bucketer.FinishSync();
        Assert.Equal([23], comm.Started.Select(s => s.Length));
        for (int p = 0; p < ps.Count; p++) Assert.Equal(original[p].Select(v => 2 * v), Values(ps[p]));
    }

    /// <summary>Two ranks with equal values: a sum doubles. Records what each collective carried. Starts through the
    /// interface's blocking default.</summary>
    private class TwoEqualRanks((int, int) packing) : ICommunicator
    {
        public List<float[]> Started { get; } = new();
        public int Waited { get; protected set; }

        public string Name => "test";
        public int Rank => 0;
        public int Size => 2;
        public TimeSpan Timeout => TimeSpan.FromSeconds(1);
        public (int Bucket, int Direct) PackingElements => packing;

        public void AllReduceSum(IReadOnlyList<Tensor> tensors)
        {
            foreach (var t in tensors)
            {
                Started.Add(t.F32().ToArray());
                Double(t);
            }
        }

        protected static void Double(Tensor t)
        {
            var s = t.F32();
            for (int i = 0; i < s.Length; i++) s[i] *= 2;
        }

        public void AllReduceSum(Span<double> values) => throw new NotSupportedException();
        public void Broadcast(Span<byte> data, int root) => throw new NotSupportedException();
        public void Broadcast(IReadOnlyList<Tensor> tensors, int root) => throw new NotSupportedException();
        public void Barrier() => throw new NotSupportedException();
        public void Dispose() { }
    }

    /// <summary>The same with sums in flight: the doubling happens at Wait, so a bucket unpacked before its wait would
    /// show the undoubled values.</summary>
    private sealed class OverlappingTwoEqualRanks((int, int) packing) : TwoEqualRanks(packing), ICommunicator
    {
        public bool OverlapsCollectives => true;

        public IPendingCollective StartAllReduceSum(Tensor tensor)
        {
            Started.Add(tensor.F32().ToArray());
            return new Pending(this, tensor);
        }

        private sealed class Pending(OverlappingTwoEqualRanks comm, Tensor tensor) : IPendingCollective
        {
            private bool _done;
            public bool Test() => _done;
            public void Wait()
            {
                if (_done) return;
                _done = true;
                comm.Waited++;
                Double(tensor);
            }
        }
    }
}
