using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>What the self-test does not cover: memory accounting and reuse, errors raised inside kernels, and the
/// backend's refusals.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class IlgpuBackendBehaviourTests(IlgpuCpuFixture fx)
{
    [Fact]
    public void Freed_blocks_are_reused_and_counted()
    {
        using var be = new IlgpuBackend(fx.Device); // its own allocator, so the counts start from zero
        long before = be.DeviceAllocations;
        var t = be.Empty(new Shape(1000), DType.F32); // 4000 B → the 4096 B class
        Assert.Equal(before + 1, be.DeviceAllocations);
        Assert.Equal(4096, be.MemoryInUse.Current);
        t.Dispose();
        Assert.Equal(0, be.MemoryInUse.Current);
        Assert.Equal(4096, be.MemoryInUse.Peak);
        Assert.Equal(4096, be.CachedBytes);

        using var again = be.Empty(new Shape(2000), DType.BF16); // same class: reused, no new allocation
        Assert.Equal(before + 1, be.DeviceAllocations);
        Assert.Equal(0, be.CachedBytes);
        using var other = be.Empty(new Shape(10), DType.F32);
        Assert.Equal(before + 2, be.DeviceAllocations);
        Assert.Equal(4096 + 512, be.MemoryInUse.Peak);
        be.ResetPeakMemory();
        Assert.Equal(be.MemoryInUse.Current, be.MemoryInUse.Peak);
    }

    [Fact]
    public void A_q8_0_kv_cache_is_refused_as_a_cpu_option()
    {
        using var be = new IlgpuBackend(fx.Device);
        var c = Engine.Tests.Models.TinyLlama.Config(layers: 1, hidden: 128, heads: 4, kvHeads: 2, inter: 16, vocab: 11, ctx: 16); // head dim 32
        var e = Assert.Throws<EngineException>(() => new Engine.Models.KvCache(be, c, 8, Engine.Models.KvCacheType.Q8_0));
        Assert.StartsWith("--kv-cache q8_0: the q8_0 cache is a CPU option; ", e.Message);
        Assert.EndsWith("(use --kv-cache auto there)", e.Message);
    }

    [Fact]
    public void Trim_returns_cached_blocks()
    {
        using var be = new IlgpuBackend(fx.Device); // its own allocator, so the counts start from zero
        be.Empty(new Shape(5000), DType.F32).Dispose();
        Assert.True(be.CachedBytes > 0);
        be.TrimCache();
        Assert.Equal(0, be.CachedBytes);
    }

    [Theory]
    [InlineData(0, 512)]
    [InlineData(1, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, 2 << 20)]
    [InlineData((5L << 20) + 7, 6L << 20)]
    public void Size_classes(long bytes, long expected) => Assert.Equal(expected, CachingAllocator.SizeClass(bytes));

    [Fact]
    public void Out_of_range_token_id_is_reported_at_the_next_synchronisation()
    {
        var be = fx.F32;
        using var w = be.FromFloats(new float[4 * 3], new Shape(4, 3), DType.F32);
        using var ids = be.FromInts(new[] { 1, 4 }, new Shape(2));
        using var y = be.Empty(new Shape(2, 3), DType.F32);
        be.EmbeddingForward(w, ids, y);
        var e = Assert.Throws<EngineException>(() => be.Synchronize());
        Assert.Contains("token id is outside the vocabulary", e.Message);
        be.Synchronize(); // the error word was cleared
    }

    [Fact]
    public void Out_of_range_target_and_position_are_reported()
    {
        var be = fx.BF16;
        using var logits = be.FromFloats(new float[2 * 5], new Shape(2, 5), DType.BF16);
        using var targets = be.FromInts(new[] { 2, 9 }, new Shape(2));
        using var loss = be.Empty(new Shape(1), DType.F32);
        using var lse = be.Empty(new Shape(2), DType.F32);
        be.CrossEntropyForward(logits, targets, -100, loss, lse);
        using var x = be.FromFloats(new float[2 * 4], new Shape(2, 1, 4), DType.BF16);
        using var pos = be.FromInts(new[] { 0, 3 }, new Shape(2));
        using var cos = be.FromFloats(new float[3 * 2], new Shape(3, 2), DType.F32);
        using var sin = be.FromFloats(new float[3 * 2], new Shape(3, 2), DType.F32);
        using var yr = be.Empty(x.Shape, DType.BF16);
        be.Rope(x, pos, cos, sin, yr, inverse: false);
        var e = Assert.Throws<EngineException>(() => be.ToFloats(loss, new float[1]));
        Assert.Contains("target is outside the vocabulary", e.Message);
        Assert.Contains("position is beyond the rope table", e.Message);
    }

    [Fact]
    public void Cublas_paths_are_refused_without_cuda()
    {
        using var be = new IlgpuBackend(fx.Device, new IlgpuBackendOptions { Gemm = GemmPath.CublasLt });
        using var a = be.Zeros(new Shape(2, 2), DType.F32);
        using var c = be.Empty(new Shape(2, 2), DType.F32);
        Assert.Throws<NotSupportedException>(() => be.MatMul(a, false, a, false, c));
        Assert.False(be.IsCuda);
        Assert.Equal("ilgpu-cpu", be.Name);
    }

    [Fact]
    public void Tensors_of_another_backend_are_rejected()
    {
        using var cpuTensor = Engine.Backends.Cpu.CpuBackend.Instance.Zeros(new Shape(3), DType.F32);
        using var y = fx.F32.Empty(new Shape(3), DType.F32);
        Assert.Throws<InvalidOperationException>(() => fx.F32.Scale(cpuTensor, 2f, y));
    }

    [Fact]
    public void Head_dimension_beyond_every_attention_kernel_is_not_supported()
    {
        var be = fx.F32;
        using var q = be.Zeros(new Shape(1, 1, 1, 264), DType.F32); // tiled: up to 128; simple: up to 256
        using var o = be.Empty(q.Shape, DType.F32);
        Assert.Throws<NotSupportedException>(() => be.AttentionForward(q, q, q, 1f, o, null));
    }

    [Fact]
    public void Activation_type_must_be_f32_or_bf16()
    {
        Assert.Throws<ArgumentException>(() => new IlgpuBackend(fx.Device, new IlgpuBackendOptions { ActivationType = DType.F16 }));
    }
}
