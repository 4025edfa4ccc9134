using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo AdamWKernel = KernelCache.Method(typeof(AdamWKernels), nameof(AdamWKernels.Step));
    private static readonly MethodInfo AdamWManyKernel = KernelCache.Method(typeof(AdamWKernels), nameof(AdamWKernels.StepMany));

    /// <summary>One launch per pack of up to 32 tensors of the same param and grad dtypes (see
    /// <see cref="AdamWKernels.StepMany{P,G}"/>): a 7B LoRA step's 448 tensors take 14 launches, not 448.</summary>
    public void AdamW(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h)
    {
        const string op = "adamw";
        var scalars = AdamWConstants(slots, h, op);
        foreach (var pack in Packs(slots, s => s.Param.NumElements, s => (FloatElem(s.Param, op), FloatElem(s.Grad, op))))
        {
            var segments = new TensorPack32<AdamWSegment>();
            long total = 0;
            for (int i = 0; i < pack.Count; i++)
            {
                var s = pack[i];
                segments.Set(i, new AdamWSegment
                {
                    Param = View(s.Param), Grad = View(s.Grad), M = F32View(s.M, op, "m"), V = F32View(s.V, op, "v"),
                    N = s.Param.NumElements, Decay = Decay(h, s),
                });
                total += s.Param.NumElements;
            }
            _kernels.Get<Action<AcceleratorStream, KernelConfig, TensorPack32<AdamWSegment>, long, AdamWScalars>>(
                    AdamWManyKernel, FloatElem(pack[0].Param, op), FloatElem(pack[0].Grad, op))
                (Stream, Elementwise(total), segments, total, scalars);
        }
    }

    /// <summary>One kernel launch per tensor: the reference the multi-tensor <see cref="AdamW"/> is tested against bit
    /// for bit, and the baseline of its benchmark.</summary>
    internal void AdamWPerTensor(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h)
    {
        const string op = "adamw";
        var scalars = AdamWConstants(slots, h, op);
        foreach (var s in slots)
        {
            long n = s.Param.NumElements;
            if (n == 0) continue;
            _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, long, AdamWScalars>>(
                    AdamWKernel, FloatElem(s.Param, op), FloatElem(s.Grad, op))
                (Stream, Elementwise(n), View(s.Param), View(s.Grad), F32View(s.M, op, "m"), F32View(s.V, op, "v"), n,
                 scalars with { Decay = Decay(h, s) });
        }
    }

    /// <summary>The step's constants, computed in double on the host as the CPU backend does, after checking that every
    /// slot's four tensors agree in size.</summary>
    private static AdamWScalars AdamWConstants(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h, string op)
    {
        foreach (var s in slots)
        {
            long n = s.Param.NumElements;
            if (s.Grad.NumElements != n || s.M.NumElements != n || s.V.NumElements != n)
                throw new ArgumentException($"{op}: param {s.Param}, grad {s.Grad}, m {s.M}, v {s.V} differ in size");
        }
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step), bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        return new AdamWScalars
        {
            StepSize = (float)(h.LearningRate / bc1), Bc2Sqrt = (float)Math.Sqrt(bc2),
            Beta1 = h.Beta1, Beta2 = h.Beta2, Eps = h.Eps, GradScale = h.GradScale,
        };
    }

    private static float Decay(in AdamWHyper h, AdamWSlot s) => 1f - h.LearningRate * s.WeightDecay;
}
