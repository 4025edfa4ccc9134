using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Cuda;
using Engine.Tests.Models;

namespace Engine.Tests.Qlora;

/// <summary>A whole QLoRA model (NF4 base + LoRA) on the ILGPU backend, run on ILGPU's CPU accelerator, against the same
/// model on the CPU backend: quantizing on either backend gives the same codes, and logits and adapter gradients agree
/// (the backend ops themselves are held to the self-test's "nf4" case, IlgpuBackendMatchesCpuTests).</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class QloraOnIlgpuTests(IlgpuCpuFixture fx)
{
    private static (LlamaModel Model, LoraAdapter Adapter) Build(IBackend be, LlamaConfig c)
    {
        var model = TinyLlama.Create(c, seed: 3, trainable: false, std: 0.3, be: be);
        Nf4Quantization.QuantizeLinears(model, doubleQuant: true);
        var adapter = LoraAdapter.Inject(model, new LoraOptions { R = 2, Alpha = 4, Seed = 9 });
        // B away from zero so the adapter path carries signal into the logits.
        var rng = new Rng(4);
        foreach (var (name, t) in adapter.Parameters.All.Where(p => p.Name.Contains("lora_B")))
        {
            var v = new float[t.NumElements];
            rng.FillNormal(v, 0, 0.3);
            using var src = be.FromFloats(v, t.Shape, DType.F32);
            be.Copy(src, t);
        }
        model.Owned.Add(adapter);
        return (model, adapter);
    }

    [Theory]
    [InlineData("f32", 1e-4)]
    [InlineData("bf16", 5e-2)]
    public void Logits_and_adapter_gradients_match_the_cpu_backend(string activation, double tol)
    {
        // hidden 64 and intermediate 100: blocks of 64 cross the rows of gate/up/down; the batch has 2 × 5 rows, so
        // the forward takes the dequantize + GEMM path and a 1-row forward the fused GEMV.
        var c = TinyLlama.Config(layers: 1, hidden: 64, heads: 4, kvHeads: 2, inter: 100, vocab: 20, ctx: 8);
        var gpu = fx.Backend(activation);
        var (gm, ga) = Build(gpu, c);
        var (cm, ca) = Build(CpuBackend.Instance, c);
        using (gm)
        using (cm)
        {
            foreach (var ((name, q), (_, r)) in Nf4Quantization.QuantizedProjections(gm).Zip(Nf4Quantization.QuantizedProjections(cm)))
                Assert.True(q.Download().Packed.AsSpan().SequenceEqual(r.Download().Packed), $"{name}: codes differ between backends");

            var tokens = new[,] { { 1, 4, 9, 2, 7 }, { 3, 3, 12, 19, 0 } };
            var gl = LossAndGrads(gm, ga, tokens);
            var cl = LossAndGrads(cm, ca, tokens);
            Assert.True(Math.Abs(gl.Loss - cl.Loss) <= tol * Math.Abs(cl.Loss), $"loss {gl.Loss} vs cpu {cl.Loss}");
            foreach (var name in cl.Grads.Keys)
                Assert.True(RelativeError(gl.Grads[name], cl.Grads[name]) <= tol * 10, $"{name}: gradient differs by {RelativeError(gl.Grads[name], cl.Grads[name]):E2}");

            var one = Logits(gm, new[] { 5 });
            var oneRef = Logits(cm, new[] { 5 });
            Assert.True(RelativeError(one, oneRef) <= tol, $"1-token logits differ by {RelativeError(one, oneRef):E2}");
        }
    }

    private static (double Loss, Dictionary<string, float[]> Grads) LossAndGrads(LlamaModel m, LoraAdapter a, int[,] tokens)
    {
        var (ids, tg, count) = TinyLlama.Batch(m, tokens);
        double loss;
        using (ids)
        using (tg)
        using (var l = m.Loss(ids, tg, 1f / count, new ForwardContext(false, 0)))
        {
            var v = new float[1];
            m.Backend.ToFloats(l, v);
            loss = v[0];
            l.Backward();
        }
        var grads = new Dictionary<string, float[]>();
        foreach (var (name, t) in a.Parameters.All)
        {
            var g = new float[t.NumElements];
            m.Backend.ToFloats(t.Grad!, g);
            grads[name] = g;
            t.Grad!.Dispose();
            t.Grad = null;
        }
        return (loss, grads);
    }

    private static float[] Logits(LlamaModel m, int[] seq)
    {
        using var _ = GradMode.NoGrad();
        using var s = new TensorScope();
        var ids = m.Backend.FromInts(seq, new Shape(1, seq.Length));
        var logits = m.Logits(m.Forward(ids, m.Positions(1, seq.Length), ForwardContext.Inference));
        var r = new float[logits.NumElements];
        m.Backend.ToFloats(logits, r);
        return r;
    }

    /// <summary>max |a − b| / (max |b| + 1e-6): the error relative to the tensor's scale.</summary>
    private static double RelativeError(float[] a, float[] b)
    {
        double worst = 0, scale = 1e-6;
        for (int i = 0; i < b.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
            scale = Math.Max(scale, Math.Abs(b[i]));
        }
        return worst / scale;
    }
}
