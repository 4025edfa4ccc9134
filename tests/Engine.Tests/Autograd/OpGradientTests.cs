using Engine.Autograd;
using Engine.Tensors;
using Engine.Tests.Support;
using static Engine.Tests.Support.GradCheck;

namespace Engine.Tests.Autograd;

/// <summary>Every differentiable op against central finite differences (see <see cref="GradCheck"/> for the tolerance).</summary>
public class OpGradientTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MatMul_all_transposes(bool ta, bool tb)
    {
        var rng = new Rng(1);
        var a = ta ? Param(rng, 5, 3) : Param(rng, 3, 5);
        var b = tb ? Param(rng, 4, 5) : Param(rng, 5, 4);
        Check(x => Ops.MatMul(x[0], x[1], ta, tb), new[] { a, b });
    }

    [Fact]
    public void MatMul_batched_and_broadcast()
    {
        var rng = new Rng(2);
        var a = Param(rng, 2, 3, 4);
        var b = Param(rng, 2, 4, 5);
        Check(x => Ops.MatMul(x[0], x[1]), new[] { a, b });
        var w = Param(rng, 6, 4);
        Check(x => Ops.Linear(x[0], x[1]), new[] { a, w });
    }

    [Fact]
    public void Add_mul_scale_sum_mean()
    {
        var rng = new Rng(3);
        var a = Param(rng, 3, 4);
        var b = Param(rng, 3, 4);
        Check(x => Ops.Add(x[0], x[1]), new[] { a, b });
        Check(x => Ops.Mul(x[0], x[1]), new[] { a, b });
        Check(x => Ops.Scale(x[0], -1.7f), new[] { a });
        Check(x => Ops.Sum(Ops.Mul(x[0], x[0])), new[] { a });
        Check(x => Ops.Mean(Ops.Mul(x[0], x[1])), new[] { a, b });
    }

    [Fact]
    public void Embedding_including_repeated_ids()
    {
        var rng = new Rng(4);
        var w = Param(rng, 7, 5);
        var ids = Cpu.FromInts(new[] { 3, 0, 3, 6, 1 }, new Shape(5));
        Check(x => Ops.Embedding(x[0], ids), new[] { w });
    }

    [Fact]
    public void RmsNorm_input_and_weight()
    {
        var rng = new Rng(5);
        var x = Param(rng, 4, 8);
        var w = Param(rng, 8);
        Check(t => Ops.RmsNorm(t[0], t[1], 1e-5f), new[] { x, w });
    }

    [Fact]
    public void Rope_half_split()
    {
        var rng = new Rng(6);
        var x = Param(rng, 5, 2, 8);
        var (cos, sin) = RopeTables(16, 8, 10000);
        var pos = Cpu.FromInts(new[] { 0, 1, 2, 7, 15 }, new Shape(5));
        Check(t => Ops.Rope(t[0], pos, cos, sin), new[] { x });
    }

    internal static (Tensor Cos, Tensor Sin) RopeTables(int maxPos, int dh, double theta)
    {
        int half = dh / 2;
        var c = new float[maxPos * half];
        var s = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++)
            {
                double ang = p * Math.Pow(theta, -2.0 * i / dh);
                c[p * half + i] = (float)Math.Cos(ang);
                s[p * half + i] = (float)Math.Sin(ang);
            }
        return (Cpu.FromFloats(c, new Shape(maxPos, half), DType.F32), Cpu.FromFloats(s, new Shape(maxPos, half), DType.F32));
    }

    [Theory]
    [InlineData(4, 4, 4, 2)]   // GQA, square
    [InlineData(2, 5, 4, 1)]   // multi-query, queries at the end of a longer key sequence (KV-cache prefill)
    [InlineData(3, 3, 2, 2)]   // plain multi-head
    public void Attention_causal_gqa(int tq, int tk, int h, int hkv)
    {
        var rng = new Rng(7);
        var q = Param(rng, 2, tq, h, 4);
        var k = Param(rng, 2, tk, hkv, 4);
        var v = Param(rng, 2, tk, hkv, 4);
        Check(t => Ops.Attention(t[0], t[1], t[2], 0.5f), new[] { q, k, v });
    }

    [Fact]
    public void SwiGlu_both_inputs()
    {
        var rng = new Rng(8);
        var g = Param(rng, 3, 6);
        var u = Param(rng, 3, 6);
        Check(t => Ops.SwiGlu(t[0], t[1]), new[] { g, u });
    }

    [Fact]
    public void CrossEntropy_with_ignored_rows()
    {
        var rng = new Rng(9);
        var logits = Param(rng, 5, 7);
        var targets = Cpu.FromInts(new[] { 2, -100, 6, 0, -100 }, new Shape(5));
        Check(t => Ops.CrossEntropy(t[0], targets, 1f / 3), new[] { logits });
    }

    [Fact]
    public void Dropout_is_a_fixed_mask()
    {
        var rng = new Rng(10);
        var x = Param(rng, 6, 9);
        Check(t => Ops.Dropout(t[0], 0.3f, 1234), new[] { x });
        // p = 0 is the identity and must still pass the gradient on (it once returned a handle without x's GradFn).
        Check(t => Ops.Dropout(Ops.Scale(t[0], 2f), 0f, 1234), new[] { x });
    }

    [Fact]
    public void Checkpoint_gives_the_same_gradients()
    {
        var rng = new Rng(11);
        var x = Param(rng, 3, 4);
        var w1 = Param(rng, 5, 4);
        var w2 = Param(rng, 4, 5);
        Tensor Block(Tensor[] t) => Ops.Linear(Ops.SwiGlu(Ops.Linear(t[0], w1), Ops.Linear(t[0], w1)), w2);

        using (var s = new TensorScope()) { var y = Block(new[] { x }); BackwardPass.Run(y, Cpu.FromFloats(Enumerable.Repeat(1f, 12).ToArray(), y.Shape, DType.F32)); }
        var gx = Values(x.Grad!); var g1 = Values(w1.Grad!); var g2 = Values(w2.Grad!);
        x.Grad = null; w1.Grad = null; w2.Grad = null;
        using (var s = new TensorScope()) { var y = Checkpoint.Run(Block, x); BackwardPass.Run(y, Cpu.FromFloats(Enumerable.Repeat(1f, 12).ToArray(), y.Shape, DType.F32)); }
        Assert.Equal(gx, Values(x.Grad!));
        Assert.Equal(g1, Values(w1.Grad!));
        Assert.Equal(g2, Values(w2.Grad!));
        Check(t => Checkpoint.Run(Block, t[0]), new[] { x, w1, w2 });
    }

    [Fact]
    public void Backward_twice_through_released_nodes_throws()
    {
        var rng = new Rng(12);
        var a = Param(rng, 2, 2);
        var y = Ops.Sum(Ops.Mul(a, a));
        y.Backward();
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Fact]
    public void Frozen_inputs_get_no_gradient_buffer()
    {
        var rng = new Rng(13);
        var x = Param(rng, 3, 4);
        var w = Param(rng, 2, 4);
        w.RequiresGrad = false;
        Ops.Sum(Ops.Linear(x, w)).Backward();
        Assert.NotNull(x.Grad);
        Assert.Null(w.Grad);
    }
}
