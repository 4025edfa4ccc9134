using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo AdamWKernel = KernelCache.Method(typeof(AdamWKernels), nameof(AdamWKernels.Step));

    /// <summary>One kernel launch per tensor (see <see cref="AdamWKernels.Step{P,G}"/> for why not one for all); the
    /// launches are queued back to back on the stream, so the cost is launch overhead (a few µs each), not syncs.</summary>
    public void AdamW(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h)
    {
        const string op = "adamw";
        double bc1 = 1 - Math.Pow(h.Beta1, h.Step), bc2 = 1 - Math.Pow(h.Beta2, h.Step);
        var scalars = new AdamWScalars
        {
            StepSize = (float)(h.LearningRate / bc1), Bc2Sqrt = (float)Math.Sqrt(bc2),
            Beta1 = h.Beta1, Beta2 = h.Beta2, Eps = h.Eps, GradScale = h.GradScale,
        };
        foreach (var s in slots)
        {
            long n = s.Param.NumElements;
            if (s.Grad.NumElements != n || s.M.NumElements != n || s.V.NumElements != n)
                throw new ArgumentException($"adamw: param {s.Param}, grad {s.Grad}, m {s.M}, v {s.V} differ in size");
            if (n == 0) continue;
            var sc = scalars with { Decay = 1f - h.LearningRate * s.WeightDecay };
            _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, long, AdamWScalars>>(
                    AdamWKernel, FloatElem(s.Param, op), FloatElem(s.Grad, op))
                (Stream, Elementwise(n), View(s.Param), View(s.Grad), F32View(s.M, op, "m"), F32View(s.V, op, "v"), n, sc);
        }
    }
}
