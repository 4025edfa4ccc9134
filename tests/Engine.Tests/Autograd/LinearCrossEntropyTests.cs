using Engine.Autograd;
using Engine.Tensors;
using Engine.Tests.Support;
using static Engine.Tests.Support.GradCheck;

namespace Engine.Tests.Autograd;

/// <summary><see cref="Ops.LinearCrossEntropy"/> against the unfused path (<see cref="Ops.Linear"/> then
/// <see cref="Ops.CrossEntropy"/>: the same per-row math, so only fp32 summation order may differ) and against finite
/// differences, with ignored targets, a scale and chunks that do not divide the rows.</summary>
public class LinearCrossEntropyTests
{
    private static readonly int[] Ignored = { 3, 7, 8, 20, 36 };

    private static Tensor Targets(int n, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = Ignored.Contains(i) ? -100 : rng.NextInt(vocab);
        return Cpu.FromInts(t, new Shape(n));
    }

    [Fact]
    public void Passes_a_finite_difference_check()
    {
        var rng = new Rng(21);
        var h = Param(rng, 7, 5);
        var w = Param(rng, 11, 5);
        var targets = Cpu.FromInts(new[] { 2, -100, 10, 0, 4, -100, 7 }, new Shape(7));
        Check(t => Ops.LinearCrossEntropy(t[0], t[1], targets, 1f / 5, chunkRows: 3), new[] { h, w });
    }

    [Theory]
    [InlineData(8)]   // 37 rows: four full chunks and one of 5
    [InlineData(37)]  // one chunk
    [InlineData(0)]   // the default (one chunk at this vocabulary)
    [InlineData(1)]
    public void Equals_the_unfused_loss_and_gradients(int chunkRows)
    {
        const int n = 37, d = 16, v = 50;
        var rng = new Rng(22);
        var h = Param(rng, n, d);
        var w = Param(rng, v, d);
        var targets = Targets(n, v, 23);
        float scale = 1f / (n - Ignored.Length);

        var (lossRef, ghRef, gwRef) = Run(() => Ops.CrossEntropy(Ops.Linear(h, w), targets, scale), h, w);
        var (loss, gh, gw) = Run(() => Ops.LinearCrossEntropy(h, w, targets, scale, chunkRows: chunkRows), h, w);

        Assert.Equal(lossRef, loss, 1e-6 * Math.Abs(lossRef));
        AssertClose(ghRef!, gh!, "dHidden");
        AssertClose(gwRef!, gw!, "dWeight");
    }

    [Fact]
    public void A_frozen_weight_gets_no_gradient_and_a_cast_weight_gets_its_own()
    {
        const int n = 19, d = 8, v = 30;
        var rng = new Rng(24);
        var h = Param(rng, n, d);
        var w = Param(rng, v, d);
        var targets = Targets(n, v, 25);

        // Through a (same-dtype) cast the weight is not a leaf: its gradient comes back as a tensor, summed over chunks.
        var (lossRef, ghRef, gwRef) = Run(() => Ops.CrossEntropy(Ops.Linear(h, w), targets, 0.5f), h, w);
        var (loss, gh, gw) = Run(() => { using var wc = Ops.Cast(w, DType.F32); return Ops.LinearCrossEntropy(h, wc, targets, 0.5f, chunkRows: 4); }, h, w);
        Assert.Equal(lossRef, loss, 1e-6 * Math.Abs(lossRef));
        AssertClose(ghRef!, gh!, "dHidden");
        AssertClose(gwRef!, gw!, "dWeight through a cast");

        w.RequiresGrad = false;
        var (_, ghFrozen, gwFrozen) = Run(() => Ops.LinearCrossEntropy(h, w, targets, 0.5f, chunkRows: 4), h, w);
        Assert.Null(gwFrozen);
        AssertClose(ghRef!, ghFrozen!, "dHidden with a frozen weight");
    }

    /// <summary>Loss value and the gradients of h and w (null where none) after one backward from a fresh start.</summary>
    private static (double Loss, float[]? Gh, float[]? Gw) Run(Func<Tensor> loss, Tensor h, Tensor w)
    {
        h.Grad = null; w.Grad = null;
        double value;
        using (var scope = new TensorScope())
        {
            var l = loss();
            value = Values(l)[0];
            l.Backward();
        }
        return (value, h.Grad is null ? null : Values(h.Grad), w.Grad is null ? null : Values(w.Grad));
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6f * max, $"{what}[{i}]: {expected[i]} vs {actual[i]}");
    }
}
