using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Cuda;

/// <summary>The model families on the CUDA backend's code (ILGPU's CPU accelerator): projection biases (composed from
/// a K = 1 matmul), Qwen 3's q/k head norms and yarn's scaled RoPE tables compute what the CPU backend computes, forward
/// and backward, in fp32 and with bf16 activations and frozen bf16 weights.</summary>
[Collection(IlgpuCpuCollection.Name)]
public class FamilyOnIlgpuTests
{
    private readonly IlgpuCpuFixture _gpu;

    public FamilyOnIlgpuTests(IlgpuCpuFixture gpu) => _gpu = gpu;

    private static float[] Read(Tensor t)
    {
        var f = new float[t.NumElements];
        global::Engine.Backends.Backend.Of(t).ToFloats(t, f);
        return f;
    }

    private static (float Loss, Dictionary<string, float[]> Grads) LossAndGrads(LlamaModel m, int[,] batch)
    {
        using var scope = new TensorScope();
        var (ids, tg, count) = TinyLlama.Batch(m, batch);
        using var loss = m.Loss(ids, tg, 1f / count, ForwardContext.Inference);
        loss.Backward();
        var grads = m.Parameters.All.Where(p => p.Tensor.Grad is not null).ToDictionary(p => p.Name, p => Read(p.Tensor.Grad!));
        return (Read(loss)[0], grads);
    }

    [Theory]
    [InlineData("qwen3-biased", "f32")]
    [InlineData("qwen3-biased", "bf16")]
    public void A_family_model_on_the_ilgpu_backend_matches_the_cpu_backend(string family, string activation)
    {
        var spec = ModelFamilyTests.Spec(family);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.Path, spec.RandomWeights(81));
        var be = _gpu.Backend(activation);
        int[,] batch = { { 1, 17, 300, 42, 511, 8 } };
        using var cpu = ModelLoader.Load(tmp.Path, CpuBackend.Instance, new WeightOptions { Trainable = _ => true });
        using var dev = ModelLoader.Load(tmp.Path, be, new WeightOptions { Trainable = _ => true });
        var (cpuLoss, cpuGrads) = LossAndGrads(cpu.Model, batch);
        var (devLoss, devGrads) = LossAndGrads(dev.Model, batch);
        // fp32: the same arithmetic in another order (~1e-6); bf16 activations round every op to 8 bits of mantissa:
        // the loss to ~1e-2 relative, each gradient vector to ~5e-2 of its norm.
        double lossTol = activation == "f32" ? 1e-4 : 2e-2, gradTol = activation == "f32" ? 1e-3 : 1e-1;
        Assert.True(Math.Abs(cpuLoss - devLoss) <= lossTol * Math.Abs(cpuLoss), $"loss {devLoss} vs cpu {cpuLoss}");
        Assert.Equal(cpuGrads.Keys.Order(), devGrads.Keys.Order());
        foreach (var name in cpuGrads.Keys.Where(n => n.EndsWith(".bias", StringComparison.Ordinal) || n.Contains("_norm.") || n.Contains("q_proj")))
        {
            var a = cpuGrads[name];
            var b = devGrads[name];
            double diff = Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum()), norm = Math.Sqrt(a.Sum(x => (double)x * x));
            Assert.True(diff <= gradTol * norm + 1e-7, $"{name}: |grad − cpu grad| = {diff:E2}, |cpu grad| = {norm:E2}");
        }
        if (activation == "f32")
        {
            using var frozen = ModelLoader.Load(tmp.Path, be, new WeightOptions());
            ModelFamilyTests.AssertClose(Stories260KTests.FullLogits(cpu.Model, ModelFamilyTests.Prompt).Select(x => (double)x).ToArray(),
                Stories260KTests.FullLogits(frozen.Model, ModelFamilyTests.Prompt), 1e-4, family);
        }
    }
}
