using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo PartialKernel = KernelCache.Method(typeof(ReductionKernels), nameof(ReductionKernels.Partial));
    private static readonly MethodInfo FinishKernel = KernelCache.Method(typeof(ReductionKernels), nameof(ReductionKernels.Finish));

    public void Sum(Tensor x, Tensor y)
    {
        if (y.NumElements < 1) throw new ArgumentException($"sum: output {y} holds no element");
        SumInto(View(x), FloatElem(x, "sum"), x.NumElements, y);
    }

    /// <summary>y[0] = Σ x in two stages on the device (no host round trip).</summary>
    private void SumInto(ArrayView<byte> x, Type xElem, long n, Tensor y)
    {
        int groups = Partials(x, xElem, typeof(IdentityOp), n);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<byte>>>(FinishKernel, FloatElem(y, "sum"))
            (Stream, new KernelConfig(1, _groupSize), _partials.View, groups, View(y));
    }

    public double SumSquares(Tensor x)
    {
        if (x.NumElements == 0) return 0;
        int groups = Partials(View(x), FloatElem(x, "sum of squares"), typeof(SquareOp), x.NumElements);
        _partials.View.SubView(0, groups).CopyToCPU(Stream, ref _hostPartials[0], groups);
        double total = 0;
        for (int i = 0; i < groups; i++) total += _hostPartials[i];
        return total;
    }

    /// <summary>First stage: one fp32 partial sum per group into <see cref="_partials"/>; returns the group count.</summary>
    private int Partials(ArrayView<byte> x, Type xElem, Type op, long n)
    {
        var config = Elementwise(n);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, long, ArrayView<float>>>(PartialKernel, xElem, op)
            (Stream, config, x, n, _partials.View);
        return config.GridDim.X;
    }
}
