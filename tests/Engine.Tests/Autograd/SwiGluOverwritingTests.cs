using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Autograd;

/// <summary>Inference's SwiGlu that overwrites its up input: the float64 product silu(g)·u, in place only when nothing
/// else holds up's storage, never where autograd would record the call.</summary>
public class SwiGluOverwritingTests
{
    private static CpuBackend Cpu => CpuBackend.Instance;

    private static float[] Values(Tensor t) => t.F32().ToArray();

    private static (float[] G, float[] U) Inputs()
    {
        var rng = new Rng(17);
        var g = new float[4 * 9];
        var u = new float[4 * 9];
        rng.FillNormal(g, 0, 3);
        rng.FillNormal(u, 0, 1);
        return (g, u);
    }

    [Fact]
    public void An_exclusive_up_is_overwritten_with_the_float64_product()
    {
        var (gv, uv) = Inputs();
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        var g = Cpu.FromFloats(gv, new Shape(4, 9), DType.F32);
        var u = Cpu.FromFloats(uv, new Shape(4, 9), DType.F32);
        var expected = Values(Ops.SwiGlu(g, u));
        var m = Ops.SwiGluOverwriting(g, u);
        Assert.Same(u.Storage, m.Storage);
        Assert.Equal(expected, Values(m));
        for (int i = 0; i < gv.Length; i++)
        {
            double want = gv[i] / (1 + Math.Exp(-(double)gv[i])) * uv[i];
            Assert.True(Math.Abs(m.F32()[i] - want) <= 1e-6 * (1 + Math.Abs(want)), $"{i}: {m.F32()[i]} vs {want}");
        }
        u.Dispose();
        Assert.False(m.Storage.IsFreed);
    }

    [Fact]
    public void A_shared_up_is_left_as_it_was()
    {
        var (gv, uv) = Inputs();
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        var g = Cpu.FromFloats(gv, new Shape(4, 9), DType.F32);
        var u = Cpu.FromFloats(uv, new Shape(4, 9), DType.F32);
        var other = u.Share();
        var m = Ops.SwiGluOverwriting(g, u);
        Assert.NotSame(u.Storage, m.Storage);
        Assert.Equal(uv, Values(other));
        Assert.Equal(Values(Ops.SwiGlu(g, u)), Values(m));
    }

    [Fact]
    public void A_call_autograd_would_record_is_refused()
    {
        var rng = new Rng(5);
        var g = GradCheck.Param(rng, 2, 3);
        var u = GradCheck.Param(rng, 2, 3);
        Assert.Throws<InvalidOperationException>(() => Ops.SwiGluOverwriting(g, u));
    }
}
