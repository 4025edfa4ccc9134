using Engine.Api;
using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>The q8_0 KV cache (<c>--kv-cache q8_0</c>): its bytes against a float64 restatement of ggml-cpu's x86
/// <c>quantize_row_q8_0</c> (the <c>from_float</c> llama.cpp stores a q8_0 cache with: d = fp32(amax/127) as fp16,
/// id = fp32(127/amax), q = fp32(x·id) rounded half to even), its size, its refusals, and a whole-model greedy run
/// against the f32 cache.</summary>
public class KvCacheQ8Tests
{
    private const int BlockBytes = 34;

    [Fact]
    public void Stored_blocks_are_ggml_quantize_row_q8_0_of_each_head_row()
    {
        var c = TinyLlama.Config(layers: 2, hidden: 256, heads: 4, kvHeads: 2, inter: 16, vocab: 11, ctx: 16); // head dim 64
        var cpu = CpuBackend.Instance;
        using var scope = new TensorScope();
        using var cache = new KvCache(cpu, c, 8, KvCacheType.Q8_0);
        var rng = new Rng(77);
        float[] k0 = Normal(rng, 3 * 2 * 64, 1.0), v0 = Normal(rng, 3 * 2 * 64, 0.02), k1 = Normal(rng, 2 * 64, 30.0), v1 = Normal(rng, 2 * 64, 1.0);
        k1[5] = 0; k1[40] = -161.5f; // a zero, and a block whose amax is negative
        cache.Append(1, cpu.FromFloats(k0, new Shape(3, 2, 64), DType.F32), cpu.FromFloats(v0, new Shape(3, 2, 64), DType.F32));
        cache.Advance(3);
        var (k, v) = cache.Append(1, cpu.FromFloats(k1, new Shape(1, 2, 64), DType.F32), cpu.FromFloats(v1, new Shape(1, 2, 64), DType.F32));
        Assert.Equal(new Shape(1, 4, 2, 2 * BlockBytes), k.Shape);
        Assert.Equal(DType.U8, k.DType);
        Assert.Equal([.. Reference(k0), .. Reference(k1)], k.U8().ToArray());
        Assert.Equal([.. Reference(v0), .. Reference(v1)], v.U8().ToArray());
    }

    [Fact]
    public void Byte_size_is_34_bytes_per_32_cached_values()
    {
        var c = TinyLlama.Config(layers: 3, hidden: 256, heads: 8, kvHeads: 2, inter: 16, vocab: 11, ctx: 64); // head dim 32
        using var q8 = new KvCache(CpuBackend.Instance, c, 40, KvCacheType.Q8_0);
        using var f16 = new KvCache(CpuBackend.Instance, c, 40, DType.F16);
        long values = 2L * 3 * 40 * 2 * 32; // k and v, layers, tokens, kv heads, head dim
        Assert.Equal(values * 34 / 32, q8.ByteSize);
        Assert.Equal(values * 2, f16.ByteSize);
        Assert.Equal("q8_0", q8.Type.Name);
    }

    [Fact]
    public void A_head_dim_that_is_not_a_multiple_of_32_is_refused_by_name()
    {
        var c = TinyLlama.Config(layers: 1, hidden: 192, heads: 4, kvHeads: 4, inter: 16, vocab: 11, ctx: 16); // stories15M's head dim 48
        var e = Assert.Throws<EngineException>(() => new KvCache(CpuBackend.Instance, c, 8, KvCacheType.Q8_0));
        Assert.Contains("--kv-cache q8_0", e.Message);
        Assert.Contains("head dim is 48", e.Message);
    }

    [Fact]
    public void Stories260K_with_head_dim_8_is_refused_through_the_api()
    {
        using var m = EngineModel.Load(SharedData.Require("stories260K/stories260K.bin"), new ModelOptions { Device = "cpu" });
        var e = Assert.Throws<EngineException>(() => m.Generate("Once", new GenerationOptions { MaxNewTokens = 4, Temperature = 0, KvCache = "q8_0" }));
        Assert.Contains("--kv-cache q8_0", e.Message);
        Assert.Contains("head dim is 8", e.Message);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void Greedy_tokens_equal_the_f32_cache_on_a_random_model(int headDim)
    {
        var c = TinyLlama.Config(layers: 2, hidden: 4 * headDim, heads: 4, kvHeads: 2, inter: 96, vocab: 64, ctx: 64);
        using var m = TinyLlama.Create(c, seed: 9, trainable: false, std: 0.05);
        int[] prompt = [1, 17, 40, 3, 22, 9];
        var greedy = new SamplingOptions { Temperature = 0 };
        var f32 = new Generator(m) { CacheType = DType.F32 }.Generate(prompt, 24, greedy, stopAtEos: false);
        var q8 = new Generator(m) { CacheType = KvCacheType.Q8_0 }.Generate(prompt, 24, greedy, stopAtEos: false);
        Assert.Equal(prompt.Length + 24, f32.Length);
        Assert.True(f32.Skip(prompt.Length).Distinct().Count() >= 4, $"a degenerate run proves little: {string.Join(",", f32)}");
        Assert.Equal(f32, q8);

        // The cache does change the numbers: the logits after the prompt differ, slightly.
        using var noGrad = GradMode.NoGrad();
        using var cf = new KvCache(m.Backend, c, 16, DType.F32);
        using var cq = new KvCache(m.Backend, c, 16, KvCacheType.Q8_0);
        var lf = new Generator(m).Step(cf, prompt);
        var lq = new Generator(m).Step(cq, prompt);
        double diff = lf.Zip(lq).Max(p => Math.Abs(p.First - p.Second)), scale = lf.Max(Math.Abs);
        Assert.True(diff > 0 && diff < 0.05 * scale, $"max |logit diff| {diff} against max |logit| {scale}");
    }

    /// <summary>The q8_0 bytes ggml-cpu's x86 from_float writes (the activation quantizer's own reference).</summary>
    private static byte[] Reference(float[] x) => Quant.Q8ActivationsTests.Reference(x, q81: false);

    private static float[] Normal(Rng rng, int n, double std)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, std);
        return v;
    }
}
