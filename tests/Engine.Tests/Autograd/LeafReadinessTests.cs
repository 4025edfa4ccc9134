using Engine.Autograd;
using Engine.Tensors;
using static Engine.Tests.Support.GradCheck;

namespace Engine.Tests.Autograd;

/// <summary>The "gradient ready" report of a backward pass (<see cref="LeafReadiness"/>): each leaf is reported once, and
/// at that moment its gradient already holds the bits the whole backward ends with (compared with a backward of the same
/// graph without the report); leaves the graph never reaches are not reported; a leaf that a recomputed checkpoint block
/// also reaches after its report throws instead of sending a gradient that was not final.</summary>
public class LeafReadinessTests
{
    /// <summary>x → Linear(w1) → Linear(w2) and Linear(w3), w1 used a second time on x, w4 unused; loss = Σ of squares.</summary>
    private static Tensor Loss(Tensor x, Tensor w1, Tensor w2, Tensor w3)
    {
        var h = Ops.Linear(x, w1);
        var a = Ops.Linear(h, w2);
        var b = Ops.Linear(h, w3);
        var again = Ops.Linear(x, w1);
        return Ops.Add(Ops.Add(Ops.Sum(Ops.Mul(a, a)), Ops.Sum(Ops.Mul(b, b))), Ops.Sum(Ops.Mul(again, again)));
    }

    [Fact]
    public void Each_reached_leaf_is_reported_once_with_its_final_gradient()
    {
        Tensor[] Leaves() { var rng = new Rng(11); return [Param(rng, 3, 4), Param(rng, 5, 4), Param(rng, 2, 5), Param(rng, 6, 5), Param(rng, 2, 2)]; }
        var plain = Leaves();
        Loss(plain[0], plain[1], plain[2], plain[3]).Backward();

        var leaves = Leaves();
        var reported = new List<(Tensor Leaf, float[] Grad)>();
        BackwardPass.Run(Loss(leaves[0], leaves[1], leaves[2], leaves[3]), null, leaf => reported.Add((leaf, Values(leaf.Grad!))));

        Assert.Equal(4, reported.Count);
        for (int i = 0; i < 4; i++)
        {
            var (_, atReport) = Assert.Single(reported, r => ReferenceEquals(r.Leaf, leaves[i]));
            Assert.Equal(Values(plain[i].Grad!), atReport); // final when reported: nothing was added afterwards
            Assert.Equal(Values(plain[i].Grad!), Values(leaves[i].Grad!)); // the report changes no gradient
        }
        Assert.Null(leaves[4].Grad);
        // w2 and w3 are used last in the forward, so they are final before w1 and x, which the first layer still feeds.
        int Position(Tensor t) => reported.FindIndex(r => ReferenceEquals(r.Leaf, t));
        Assert.True(Math.Max(Position(leaves[2]), Position(leaves[3])) < Math.Min(Position(leaves[0]), Position(leaves[1])),
                    string.Join(", ", reported.Select(r => Array.IndexOf(leaves, r.Leaf))));
    }

    [Fact]
    public void Leaves_only_a_checkpoint_block_reaches_are_not_reported()
    {
        var rng = new Rng(12);
        var x = Param(rng, 3, 4);
        var inner = Param(rng, 4, 4);
        var outer = Param(rng, 2, 4);
        var h = Checkpoint.Run(xs => Ops.Linear(xs[0], inner), x);
        var y = Ops.Linear(h, outer);
        var reported = new List<Tensor>();
        BackwardPass.Run(Ops.Sum(Ops.Mul(y, y)), null, reported.Add);
        Assert.Contains(outer, reported);
        Assert.Contains(x, reported);
        Assert.DoesNotContain(inner, reported);
        Assert.NotNull(inner.Grad);
    }

    [Fact]
    public void A_leaf_that_a_checkpoint_block_reaches_after_its_report_throws()
    {
        var rng = new Rng(13);
        var x = Param(rng, 3, 4);
        var w = Param(rng, 4, 4);
        var h = Checkpoint.Run(xs => Ops.Linear(xs[0], w), x);
        var y = Ops.Linear(h, w); // w is final for the outer graph before the block's recompute adds to it
        var e = Assert.Throws<InvalidOperationException>(() => BackwardPass.Run(Ops.Sum(Ops.Mul(y, y)), null, _ => { }));
        Assert.Contains("after it was reported final", e.Message);

        // Without a report the same graph runs as ever.
        var x2 = Param(new Rng(13), 3, 4);
        var w2 = Param(new Rng(13), 4, 4);
        var y2 = Ops.Linear(Checkpoint.Run(xs => Ops.Linear(xs[0], w2), x2), w2);
        Ops.Sum(Ops.Mul(y2, y2)).Backward();
        Assert.NotNull(w2.Grad);
    }
}
