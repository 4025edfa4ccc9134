using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Diagnostics;
using Engine.Kernels;
using Engine.Tensors;
using static Engine.Tests.Backends.MaskedAttentionTests;

namespace Engine.Tests.Cuda;

/// <summary>The tensor-core attention backward (<see cref="MmaAttentionBackwardKernels"/>, mma.sync and ldmatrix
/// emulated with warp shuffles on ILGPU's CPU accelerator) against the float64 reference of the masked-attention tests:
/// dq, dk, dv within the bf16 tolerance of the self-test's metric (2e-2 of |reference| + mean |reference|). The kernels
/// round P and dS to bf16 before the dV, dK, dQ products (as FlashAttention-2 does) and store bf16: a float64 model of
/// exactly those roundings at the first shape lands at 0.8–1.2e-2, and the kernels at 0.7–1.2e-2 over these shapes
/// (the tiled fp32 backward, which rounds only its outputs, at 3e-3). The backward is fed the reference's o (rounded to bf16, as a bf16 forward would give)
/// and lse, and the reference's D = Σ dO∘o uses that rounded o too: where a row's P is nearly one-hot, dS = P∘(dP − D)
/// is a small difference, and o's rounding alone moves it by more than the kernel's own error. The engine's attention is always causal; a KV offset (Tq &lt; Tk) gives rows that see keys past their own
/// index, the last row every key, which is what a non-causal row computes.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class MmaAttentionBackwardTests(IlgpuCpuFixture fx)
{
    public static TheoryData<int, int, int, int, int, int, int[]?, int> Shapes() => new()
    {
        // B, Tq, Tk, H, Hkv, Dh, sample lengths filling the rows in turn (null: one sample per row), window
        { 1, 33, 33, 2, 1, 64, null, 0 },                // causal, GQA 2:1 (dk, dv sum two heads), one partial tile
        { 1, 9, 24, 1, 1, 128, null, 0 },                // KV offset 15: the last row sees every key; both column blocks
        { 1, 40, 40, 1, 1, 64, new[] { 17, 3, 20 }, 0 }, // packed samples, one of 3 tokens inside a 16-row chunk
        { 1, 70, 70, 1, 1, 64, null, 9 },                // sliding window over two query and key tiles: tiles and chunks skipped
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Mma_attention_backward_matches_float64(int batch, int tq, int tk, int heads, int kvHeads, int dh, int[]? lengths, int window)
    {
        var be = fx.BF16;
        be.Attention = AttentionKernel.Mma;
        try
        {
            Assert.NotNull(be.MmaAttentionTileFor(dh, DType.BF16, backward: true)); // the tensor-core backward serves this call
            var c = Case(batch, tq, tk, heads, kvHeads, dh, lengths, window);
            var (dq, dk, dv) = Run(be, c);
            AssertClose("dq", dq, c.Want.Dq);
            AssertClose("dk", dk, c.Want.Dk);
            AssertClose("dv", dv, c.Want.Dv);
        }
        finally
        {
            be.Attention = AttentionKernel.Tiled;
        }
    }

    [Fact]
    public void Mma_attention_backward_is_bit_identical_from_run_to_run()
    {
        var be = fx.BF16;
        be.Attention = AttentionKernel.Mma;
        try
        {
            var c = Case(1, 20, 20, 2, 1, 64, [9, 11], 0); // GQA: dk, dv sum two heads' contributions
            var first = Run(be, c);
            var second = Run(be, c);
            Assert.Equal(Bits(first.Dq), Bits(second.Dq));
            Assert.Equal(Bits(first.Dk), Bits(second.Dk));
            Assert.Equal(Bits(first.Dv), Bits(second.Dv));
        }
        finally
        {
            be.Attention = AttentionKernel.Tiled;
        }
    }

    private sealed record Inputs(Shape Qs, Shape Ks, float Scale, float[] Q, float[] K, float[] V, float[] DO, float[] O, float[] Lse,
                                 int[]? Starts, int Window, Result Want);

    /// <summary>Random bf16 inputs and the float64 forward and gradients for them.</summary>
    private static Inputs Case(int batch, int tq, int tk, int heads, int kvHeads, int dh, int[]? lengths, int window)
    {
        var rng = new Rng((ulong)(tq * 7919 + tk * 31 + dh + window + batch));
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        float scale = 1f / MathF.Sqrt(dh);
        float[] q = Normal(rng, qs), k = Normal(rng, ks), v = Normal(rng, ks), dO = Normal(rng, qs);
        var sample = SampleIds(batch, tq, lengths);
        var want = Reference(batch, tq, tk, heads, kvHeads, dh, q, k, v, dO, scale, (bb, t, j) =>
        {
            int p = t + tk - tq;
            return j <= p && (window == 0 || p - j < window) && (sample is null || sample[bb * tq + t] == sample[bb * tq + j]);
        }, x => FloatBits.BF16ToFloat(FloatBits.FloatToBF16((float)x)));
        var o = SelfTestHarness.RoundTo(want.O.Select(x => (float)x).ToArray(), DType.BF16);
        var lse = want.Lse.Select(x => (float)x).ToArray();
        return new Inputs(qs, ks, scale, q, k, v, dO, o, lse, sample is null ? null : Starts(sample, tq), window, want);
    }

    private static (float[] Dq, float[] Dk, float[] Dv) Run(IlgpuBackend be, Inputs c)
    {
        var dt = DType.BF16;
        using var scope = new TensorScope();
        var mask = c.Starts is null && c.Window == 0 ? null
            : new AttentionMask(c.Starts is null ? null : be.FromInts(c.Starts, new Shape(c.Starts.Length)), c.Window);
        var dq = be.Empty(c.Qs, dt);
        var dk = be.Empty(c.Ks, dt);
        var dv = be.Empty(c.Ks, dt);
        be.AttentionBackward(be.FromFloats(c.DO, c.Qs, dt), be.FromFloats(c.Q, c.Qs, dt), be.FromFloats(c.K, c.Ks, dt), be.FromFloats(c.V, c.Ks, dt),
                             be.FromFloats(c.O, c.Qs, dt), be.FromFloats(c.Lse, new Shape(c.Qs[0], c.Qs[2], c.Qs[1]), DType.F32),
                             c.Scale, dq, dk, dv, mask);
        return (SelfTestHarness.Read(be, dq), SelfTestHarness.Read(be, dk), SelfTestHarness.Read(be, dv));
    }

    private static float[] Normal(Rng rng, Shape shape)
    {
        var v = new float[shape.NumElements];
        rng.FillNormal(v, 0, 1.0);
        return SelfTestHarness.RoundTo(v, DType.BF16);
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static void AssertClose(string what, float[] actual, double[] expected)
    {
        var (err, note) = SelfTestHarness.MaxRelativeError(actual, expected.Select(x => (float)x).ToArray());
        Assert.True(err <= SelfTestHarness.HalfTolerance, $"{what}: error {err:E2} above {SelfTestHarness.HalfTolerance:E0} {note}");
    }
}
