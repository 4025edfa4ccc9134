using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Diagnostics;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>The tensor-core attention forward (<see cref="MmaAttentionKernels"/>, mma.sync emulated with warp shuffles
/// on ILGPU's CPU accelerator) against the CPU backend: o at the bf16 tolerance (2e-2, as the tiled kernel's bf16
/// tests), lse at fp32's (1e-5: scores are exact bf16 products summed in fp32 either way). Shapes hit a partial query
/// and key tile (37), several tiles with skipped chunks and tiles (80), a KV offset (Tq &lt; Tk), GQA, Dh 64 and 128,
/// and packed samples and a window through the tiled kernels' mask logic. All attention here is causal (the engine has
/// no non-causal attention); Tq &lt; Tk gives rows that see more keys than their own index.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class MmaAttentionTests(IlgpuCpuFixture fx)
{
    public static TheoryData<int, int, int, int, int, int, int[]?, int> Shapes() => new()
    {
        // B, Tq, Tk, H, Hkv, Dh, sample lengths filling the rows in turn (null: one sample per row), window
        { 1, 37, 37, 2, 1, 64, null, 0 },     // one partial tile, GQA 2:1
        { 1, 37, 37, 2, 1, 128, null, 0 },    // both 64-column output blocks
        { 1, 20, 45, 2, 2, 64, null, 0 },     // KV offset 25: rows see keys past their index
        { 1, 80, 80, 1, 1, 64, null, 0 },     // two query and key tiles, chunks and a tile above the diagonal skipped
        { 1, 100, 100, 2, 1, 64, new[] { 40, 3, 57 }, 0 },  // packed samples, one of 3 tokens inside a 16-key chunk
        { 1, 70, 70, 1, 1, 128, new[] { 64, 5, 1 }, 0 },   // a sample ending on the tile edge, one of a single token
        { 1, 70, 70, 2, 2, 64, null, 20 },    // sliding window
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Mma_attention_forward_matches_cpu_backend(int batch, int tq, int tk, int heads, int kvHeads, int dh, int[]? lengths, int window)
    {
        var be = fx.BF16;
        be.Attention = AttentionKernel.Mma;
        try
        {
            Assert.NotNull(be.MmaAttentionTileFor(dh, DType.BF16)); // the tensor-core kernel serves this call
            Run(be, batch, tq, tk, heads, kvHeads, dh, lengths, window);
        }
        finally
        {
            be.Attention = AttentionKernel.Tiled;
        }
    }

    [Fact]
    public void Mma_is_chosen_only_for_bf16_at_head_dims_64_and_128_and_never_by_default()
    {
        Assert.Equal(AttentionKernel.Tiled, new IlgpuBackendOptions().Attention);
        var be = fx.BF16;
        Assert.Null(be.MmaAttentionTileFor(64, DType.BF16)); // Tiled selected
        be.Attention = AttentionKernel.Mma;
        try
        {
            Assert.Equal(typeof(HeadDim64), be.MmaAttentionTileFor(64, DType.BF16));
            Assert.Equal(typeof(HeadDim128), be.MmaAttentionTileFor(128, DType.BF16));
            Assert.Null(be.MmaAttentionTileFor(72, DType.BF16));
            Assert.Null(be.MmaAttentionTileFor(64, DType.F32));
            Assert.Null(be.MmaAttentionTileFor(64, DType.F16));
            Assert.Equal(AttentionKernel.Mma, be.AttentionKernelFor(128));
            Assert.Equal(AttentionKernel.Mma, be.AttentionKernelFor(128, backward: true));
            Assert.Null(be.MmaAttentionTileFor(72, DType.BF16, backward: true));
            Assert.Null(be.MmaAttentionTileFor(64, DType.F32, backward: true));
            Assert.Equal(AttentionKernel.Tiled, be.AttentionKernelFor(72));                  // falls back to tiled
        }
        finally
        {
            be.Attention = AttentionKernel.Tiled;
        }
    }

    private static void Run(IlgpuBackend be, int batch, int tq, int tk, int heads, int kvHeads, int dh, int[]? lengths, int window)
    {
        var dt = DType.BF16;
        var cpu = CpuBackend.Instance;
        var rng = new Rng((ulong)(tq * 7919 + tk * 31 + dh + window));
        using var scope = new TensorScope();
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        var lseShape = new Shape(batch, heads, tq);
        float scale = 1f / MathF.Sqrt(dh);
        float[] q = Normal(rng, qs), k = Normal(rng, ks), v = Normal(rng, ks);
        var sample = Backends.MaskedAttentionTests.SampleIds(batch, tq, lengths);
        var starts = sample is null ? null : Backends.MaskedAttentionTests.Starts(sample, tq);
        AttentionMask? mask = starts is null && window == 0 ? null : new AttentionMask(starts is null ? null : be.FromInts(starts, new Shape(starts.Length)), window);
        AttentionMask? cpuMask = mask is null ? null : new AttentionMask(starts is null ? null : cpu.FromInts(starts, new Shape(starts.Length)), window);

        var o = be.Empty(qs, dt);
        var lse = be.Empty(lseShape, DType.F32);
        be.AttentionForward(be.FromFloats(q, qs, dt), be.FromFloats(k, ks, dt), be.FromFloats(v, ks, dt), scale, o, lse, mask);
        var oRef = cpu.Empty(qs, DType.F32);
        var lseRef = cpu.Empty(lseShape, DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, ks, DType.F32), cpu.FromFloats(v, ks, DType.F32), scale, oRef, lseRef, cpuMask);
        AssertClose("o", SelfTestHarness.Read(be, o), SelfTestHarness.Read(cpu, oRef), SelfTestHarness.HalfTolerance);
        AssertClose("lse", SelfTestHarness.Read(be, lse), SelfTestHarness.Read(cpu, lseRef), SelfTestHarness.F32Tolerance);
    }

    private static float[] Normal(Rng rng, Shape shape)
    {
        var v = new float[shape.NumElements];
        rng.FillNormal(v, 0, 1.0);
        return SelfTestHarness.RoundTo(v, DType.BF16);
    }

    private static void AssertClose(string what, float[] actual, float[] expected, double tol)
    {
        var (err, note) = SelfTestHarness.MaxRelativeError(actual, expected);
        Assert.True(err <= tol, $"{what}: error {err:E2} above {tol:E0} {note}");
    }
}
