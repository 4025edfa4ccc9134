using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Qlora;

/// <summary>QLoRA models built from stories260K converted to an HF folder and loaded through ModelLoader.</summary>
public class QloraModelTests
{
    private static readonly int[] Ids = { 1, 403, 407, 261, 378, 432, 289, 300 };

    private static LoadedModel Load(string dir, Nf4Options? nf4 = null) =>
        ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions { Nf4 = nf4 });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void With_B_at_zero_the_qlora_model_gives_the_dequantized_bases_logits(bool dq)
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        using var qlora = Load(dir, new Nf4Options(dq));
        Assert.Equal(5 * 7, Nf4Quantization.QuantizedProjections(qlora.Model).Count());
        Assert.All(qlora.Model.Parameters.All, p => Assert.False(LlamaWeights.IsProjection(p.Name), $"{p.Name} kept a dense copy"));
        using var adapter = LoraAdapter.Inject(qlora.Model, new LoraOptions { R = 4, Alpha = 8 });
        Assert.IsType<Nf4Linear>(((LoraLinear)qlora.Model.Layers[2].Down).Base);
        var adapted = Stories260KTests.FullLogits(qlora.Model, Ids);

        // The same quantization, then every projection replaced by its dequantized fp32 weight as a plain Linear.
        using var reference = Load(dir);
        Assert.Equal(35, Nf4Quantization.QuantizeLinears(reference.Model, dq));
        Assert.Equal(35, Nf4Quantization.DequantizeLinears(reference.Model, DType.F32));
        Assert.IsType<Linear>(reference.Model.Layers[0].Q);
        Assert.Equal(Stories260KTests.FullLogits(reference.Model, Ids), adapted);

        // ...and NF4 really changed the model, by a plausible amount: the argmax survives at most positions.
        using var f32 = Load(dir);
        var original = Stories260KTests.FullLogits(f32.Model, Ids);
        int v = f32.Model.Config.VocabSize, same = 0;
        double maxDiff = 0;
        for (int p = 0; p < Ids.Length; p++)
        {
            if (Sampler.ArgMax(original.AsSpan(p * v, v)) == Sampler.ArgMax(adapted.AsSpan(p * v, v))) same++;
            for (int i = 0; i < v; i++) maxDiff = Math.Max(maxDiff, Math.Abs(original[p * v + i] - adapted[p * v + i]));
        }
        Assert.True(maxDiff > 1e-3, $"NF4 left the logits unchanged (max diff {maxDiff})");
        Assert.True(same >= Ids.Length - 2, $"argmax kept at only {same} of {Ids.Length} positions");
    }

    [Fact]
    public void Quantizing_in_place_frees_the_dense_projections()
    {
        using var tmp = new TempDir();
        var be = new CpuBackend();
        using var m = ModelLoader.Load(HfFixture.Stories260K(tmp.Path), be, new WeightOptions());
        long before = be.MemoryInUse.Current;
        var sizes0 = Nf4Quantization.Sizes(m.Model);
        Assert.Equal(0, sizes0.QuantizedProjections);
        Nf4Quantization.QuantizeLinears(m.Model, doubleQuant: true);
        var sizes = Nf4Quantization.Sizes(m.Model);
        Assert.Equal(sizes0.Bf16, sizes.Bf16);
        long projectionElements = 5L * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 172);
        long nf4Bytes = Nf4Quantization.QuantizedProjections(m.Model).Sum(p => p.Linear.ByteSize);
        Assert.Equal(sizes.Bf16 - 2 * projectionElements + nf4Bytes, sizes.Quantized);
        // Each projection's fp32 copy is gone; what took its place is the NF4 data (its offset is a field, not device
        // memory; each holds a 1 KiB nested code map).
        long after = be.MemoryInUse.Current;
        Assert.Equal(before - 4 * projectionElements + nf4Bytes - 35 * 4 + 35 * 256 * 4, after);
        // 4.127 bits per weight: 0.5 byte per code, one byte per 64 weights, 4 bytes per 256 blocks and the offset.
        Assert.InRange(nf4Bytes * 8.0 / projectionElements, 4.12, 4.2);
    }
}
