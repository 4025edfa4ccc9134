using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Tensors;
using static Engine.Tests.Support.GradCheck;

namespace Engine.Tests.Autograd;

/// <summary><see cref="Ops.LoraLinear"/> on the CPU backend against (1) the composed ops LoraLinear ran before, for each
/// base kind, with and without dropout; (2) y and every gradient written out as float64 loops; (3) central finite
/// differences. Tolerance against the composed path: 1e-5 of the tensor's largest magnitude. Both paths are fp32 with
/// the same operands; they differ only in the order of additions (s folded into the GEMM's alpha instead of a separate
/// scale, y + s·h·Bᵀ accumulated in the GEMM instead of an add, dx's two shares summed in the GEMM instead of by the
/// backward engine), each a few fp32 roundings (u = 6e-8) of sums over at most 64 terms: ~1e-6 at most.</summary>
public class LoraLinearOpTests
{
    private const double FusedTol = 1e-5;

    [Theory]
    [InlineData("dense", 0f)]
    [InlineData("dense", 0.25f)]
    [InlineData("nf4", 0f)]
    [InlineData("nf4", 0.25f)]
    [InlineData("q8_0", 0f)]
    [InlineData("q4_0", 0.25f)]
    public void Fused_op_matches_the_composed_path(string baseKind, float dropout)
    {
        using var c = new LoraCase(CpuBackend.Instance, baseKind, dropout);
        var fused = c.Run(fused: true);
        var composed = c.Run(fused: false);
        LoraCase.AssertClose(fused, composed, FusedTol);
    }

    [Fact]
    public void A_trainable_dense_base_still_gets_its_gradient()
    {
        using var c = new LoraCase(CpuBackend.Instance, "dense", 0.25f, trainableBase: true);
        LoraCase.AssertClose(c.Run(fused: true), c.Run(fused: false), FusedTol);
    }

    [Fact]
    public void Inference_output_and_a_frozen_adapter_match_the_composed_path()
    {
        using var c = new LoraCase(CpuBackend.Instance, "nf4", 0.25f);
        float[] Y(bool fused)
        {
            using var scope = new TensorScope();
            using var g = GradMode.NoGrad();
            return c.Read(fused ? c.Layer.Forward(c.X, Engine.Nn.ForwardContext.Inference) : LoraCase.Composed(c.Layer, c.X, Engine.Nn.ForwardContext.Inference));
        }
        Assert.True(LoraCase.RelativeError(Y(true), Y(false)) <= FusedTol);

        // A loaded adapter that is not trained: only x wants a gradient, and A and B get no buffers.
        c.A.RequiresGrad = false;
        c.B.RequiresGrad = false;
        float[] Dx(bool fused)
        {
            c.X.Grad = null;
            using var scope = new TensorScope();
            var y = fused ? c.Layer.Forward(c.X, LoraCase.Training) : LoraCase.Composed(c.Layer, c.X, LoraCase.Training);
            BackwardPass.Run(y, Cpu.FromFloats(Enumerable.Repeat(0.5f, (int)y.NumElements).ToArray(), y.Shape, DType.F32));
            return c.Read(c.X.Grad!);
        }
        Assert.True(LoraCase.RelativeError(Dx(true), Dx(false)) <= FusedTol);
        Assert.Null(c.A.Grad);
        Assert.Null(c.B.Grad);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.3f)]
    public void Matches_float64_loops(float p)
    {
        const int rows = 6, inF = 8, outF = 5, r = 2;
        const float s = 1.5f;
        const ulong seed = 1234;
        var rng = new Rng(21);
        var x = Param(rng, 2, 3, inF);
        var a = Param(rng, 0.5, r, inF);
        var b = Param(rng, 0.5, outF, r);
        var w = Param(rng, 0.5, outF, inF);
        w.RequiresGrad = false;
        var g = new float[rows * outF];
        rng.FillNormal(g, 0, 1);
        float[] y;
        using (var scope = new TensorScope())
        {
            var t = Ops.LoraLinear(x, v => Ops.Linear(v, w), a, b, s, p, seed);
            y = Values(t);
            BackwardPass.Run(t, Cpu.FromFloats(g, t.Shape, DType.F32));
        }
        double[] X = Values(x).Select(v => (double)v).ToArray(), A = Values(a).Select(v => (double)v).ToArray();
        double[] B = Values(b).Select(v => (double)v).ToArray(), W = Values(w).Select(v => (double)v).ToArray();
        var mask = new double[rows * inF];
        for (int i = 0; i < mask.Length; i++) mask[i] = p > 0 && Rng.HashUniform(seed, i) < p ? 0 : 1 / (1 - (double)p);
        var h = new double[rows * r];
        for (int t = 0; t < rows; t++)
            for (int k = 0; k < r; k++)
                for (int i = 0; i < inF; i++) h[t * r + k] += X[t * inF + i] * mask[t * inF + i] * A[k * inF + i];
        var dh = new double[rows * r];
        for (int t = 0; t < rows; t++)
            for (int k = 0; k < r; k++)
                for (int o = 0; o < outF; o++) dh[t * r + k] += s * g[t * outF + o] * B[o * r + k];
        var yRef = new double[rows * outF];
        var dB = new double[outF * r];
        for (int t = 0; t < rows; t++)
            for (int o = 0; o < outF; o++)
            {
                for (int i = 0; i < inF; i++) yRef[t * outF + o] += X[t * inF + i] * W[o * inF + i];
                for (int k = 0; k < r; k++)
                {
                    yRef[t * outF + o] += s * h[t * r + k] * B[o * r + k];
                    dB[o * r + k] += s * g[t * outF + o] * h[t * r + k];
                }
            }
        var dA = new double[r * inF];
        var dx = new double[rows * inF];
        for (int t = 0; t < rows; t++)
            for (int i = 0; i < inF; i++)
            {
                for (int k = 0; k < r; k++)
                {
                    dA[k * inF + i] += dh[t * r + k] * X[t * inF + i] * mask[t * inF + i];
                    dx[t * inF + i] += mask[t * inF + i] * dh[t * r + k] * A[k * inF + i];
                }
                for (int o = 0; o < outF; o++) dx[t * inF + i] += g[t * outF + o] * W[o * inF + i];
            }
        if (p > 0) Assert.Contains(0.0, mask);
        void Near(string what, float[] got, double[] want) =>
            Assert.True(LoraCase.RelativeError(got, want.Select(v => (float)v).ToArray()) <= FusedTol, $"{what} differs from float64");
        Near("y", y, yRef);
        Near("dx", Values(x.Grad!), dx);
        Near("dA", Values(a.Grad!), dA);
        Near("dB", Values(b.Grad!), dB);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.3f)]
    public void Gradients_pass_a_finite_difference_check(float p)
    {
        var rng = new Rng(22);
        var x = Param(rng, 2, 3, 8);
        var a = Param(rng, 0.5, 3, 8);
        var b = Param(rng, 0.5, 5, 3);
        var w = Param(rng, 0.5, 5, 8);
        w.RequiresGrad = false;
        Check(t => Ops.LoraLinear(t[0], v => Ops.Linear(v, w), t[1], t[2], 1.5f, p, 99), new[] { x, a, b });
        Assert.Null(w.Grad);
    }

    [Fact]
    public void A_base_that_is_not_one_op_on_x_is_refused()
    {
        var rng = new Rng(23);
        var x = Param(rng, 3, 8);
        var a = Param(rng, 2, 8);
        var b = Param(rng, 4, 2);
        var w = Param(rng, 4, 8);
        w.RequiresGrad = false;
        using var scope = new TensorScope();
        var e = Assert.Throws<InvalidOperationException>(() => Ops.LoraLinear(x, v => Ops.Scale(Ops.Linear(v, w), 2f), a, b, 1f, 0f, 0));
        Assert.Contains("scale", e.Message);
    }
}
