using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Diagnostics;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>The attention kernels (tiled and simple) under packed-sample and sliding-window masks, on ILGPU's CPU
/// accelerator against the CPU backend (itself checked against a float64 reference in
/// <see cref="Backends.MaskedAttentionTests"/>). Sample boundaries and windows are placed across and on the 64-row/64-key
/// tile edges, so that rows whose first key lies in a later tile than their tile's first row, skipped key tiles
/// (forward and dQ) and skipped query tiles (dK/dV) all occur.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class MaskedAttentionKernelTests(IlgpuCpuFixture fx)
{
    public static TheoryData<string, int, int, int, int, int, int[]?, int, string> Cases() => new()
    {
        // kernels, B, Tq, Tk, H, Hkv, sample lengths filling the rows in turn (null: one sample per row), window, activations
        { "tiled", 2, 150, 150, 2, 1, new[] { 70, 10, 64, 6, 1, 130, 19 }, 0, "f32" }, // samples across tile edges, one of 1 token
        { "tiled", 2, 150, 150, 2, 1, new[] { 70, 10, 64, 6, 1, 130, 19 }, 37, "f32" },
        { "tiled", 1, 200, 200, 2, 2, new[] { 128, 72 }, 0, "bf16" },                 // a sample starting on a tile edge: whole tiles skipped
        { "tiled", 1, 130, 130, 2, 1, null, 64, "f32" },                               // a window of exactly one tile
        { "tiled", 1, 20, 100, 2, 1, null, 30, "f32" },                                // KV-cache offset under a window
        { "tiled", 1, 40, 40, 2, 2, new[] { 9, 31 }, 5, "bf16" },                      // Dh 72: the second column group
        { "simple", 2, 150, 150, 2, 1, new[] { 70, 10, 64, 6, 1, 130, 19 }, 37, "f32" },
        { "simple", 1, 20, 100, 2, 1, null, 30, "f32" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Masked_attention_kernels_match_the_cpu_backend(string kernels, int batch, int tq, int tk, int heads, int kvHeads,
                                                               int[]? lengths, int window, string activation)
    {
        var be = fx.Backend(activation);
        int dh = lengths is { Length: 2 } && tq == 40 ? 72 : 16;
        be.Attention = kernels == "tiled" ? AttentionKernel.Tiled : AttentionKernel.Simple;
        try
        {
            Assert.Equal(kernels == "tiled", be.TiledAttentionTile(dh) is not null);
            Run(be, batch, tq, tk, heads, kvHeads, dh, lengths, window);
        }
        finally
        {
            be.Attention = AttentionKernel.Tiled;
        }
    }

    private static void Run(IlgpuBackend be, int batch, int tq, int tk, int heads, int kvHeads, int dh, int[]? lengths, int window)
    {
        var dt = be.ActivationType;
        double tol = dt == DType.F32 ? SelfTestHarness.F32Tolerance : SelfTestHarness.HalfTolerance;
        var cpu = CpuBackend.Instance;
        var rng = new Rng((ulong)(tq * 7919 + window * 31 + dh));
        using var scope = new TensorScope();
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        var lseShape = new Shape(batch, heads, tq);
        float scale = 1f / MathF.Sqrt(dh);
        float[] q = Normal(rng, qs, dt), k = Normal(rng, ks, dt), v = Normal(rng, ks, dt), dO = Normal(rng, qs, dt);
        var sample = Backends.MaskedAttentionTests.SampleIds(batch, tq, lengths);
        var starts = sample is null ? null : Backends.MaskedAttentionTests.Starts(sample, tq);
        var mask = new AttentionMask(starts is null ? null : be.FromInts(starts, new Shape(starts.Length)), window);
        var cpuMask = new AttentionMask(starts is null ? null : cpu.FromInts(starts, new Shape(starts.Length)), window);

        var o = be.Empty(qs, dt);
        var lse = be.Empty(lseShape, DType.F32);
        be.AttentionForward(be.FromFloats(q, qs, dt), be.FromFloats(k, ks, dt), be.FromFloats(v, ks, dt), scale, o, lse, mask);
        var oRef = cpu.Empty(qs, DType.F32);
        var lseRef = cpu.Empty(lseShape, DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, ks, DType.F32), cpu.FromFloats(v, ks, DType.F32), scale, oRef, lseRef, cpuMask);
        AssertClose("o", Read(be, o), Read(cpu, oRef), tol);
        AssertClose("lse", Read(be, lse), Read(cpu, lseRef), SelfTestHarness.F32Tolerance);

        var oIn = SelfTestHarness.RoundTo(Read(cpu, oRef), dt);
        var lseIn = Read(cpu, lseRef);
        var dq = be.Empty(qs, dt);
        var dk = be.Empty(ks, dt);
        var dv = be.Empty(ks, dt);
        be.AttentionBackward(be.FromFloats(dO, qs, dt), be.FromFloats(q, qs, dt), be.FromFloats(k, ks, dt), be.FromFloats(v, ks, dt),
                             be.FromFloats(oIn, qs, dt), be.FromFloats(lseIn, lseShape, DType.F32), scale, dq, dk, dv, mask);
        var dqRef = cpu.Empty(qs, DType.F32);
        var dkRef = cpu.Empty(ks, DType.F32);
        var dvRef = cpu.Empty(ks, DType.F32);
        cpu.AttentionBackward(cpu.FromFloats(dO, qs, DType.F32), cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, ks, DType.F32),
                              cpu.FromFloats(v, ks, DType.F32), cpu.FromFloats(oIn, qs, DType.F32), cpu.FromFloats(lseIn, lseShape, DType.F32),
                              scale, dqRef, dkRef, dvRef, cpuMask);
        AssertClose("dq", Read(be, dq), Read(cpu, dqRef), tol);
        AssertClose("dk", Read(be, dk), Read(cpu, dkRef), tol);
        AssertClose("dv", Read(be, dv), Read(cpu, dvRef), tol);
    }

    private static float[] Normal(Rng rng, Shape shape, DType dt)
    {
        var v = new float[shape.NumElements];
        rng.FillNormal(v, 0, 1.0);
        return SelfTestHarness.RoundTo(v, dt);
    }

    private static float[] Read(IBackend b, Tensor t) => SelfTestHarness.Read(b, t);

    private static void AssertClose(string what, float[] actual, float[] expected, double tol)
    {
        var (err, note) = SelfTestHarness.MaxRelativeError(actual, expected);
        Assert.True(err <= tol, $"{what}: error {err:E2} above {tol:E0} {note}");
    }
}
