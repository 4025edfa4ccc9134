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
    private static readonly MethodInfo PartialManyKernel = KernelCache.Method(typeof(ReductionKernels), nameof(ReductionKernels.PartialMany));
    private static readonly MethodInfo FinishIntoKernel = KernelCache.Method(typeof(ReductionKernels), nameof(ReductionKernels.FinishInto));

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
        HostReads++;
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

    public void SumInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot) => SumManyInto(xs, typeof(IdentityOp), acc, slot, "sum into");

    public void SumSquaresInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot) => SumManyInto(xs, typeof(SquareOp), acc, slot, "sum of squares into");

    /// <summary>One partial launch per pack of up to 32 same-dtype tensors, each group leaving an fp64 partial in one
    /// scratch buffer, then one launch adds them all into the slot: packs + 1 launches, no host read.</summary>
    private void SumManyInto(IReadOnlyList<Tensor> xs, Type op, Tensor acc, int slot, string name)
    {
        SplitDouble.Check(acc, slot, name);
        var packs = Packs(xs, x => x.NumElements, x => FloatElem(x, name));
        if (packs.Count == 0) return;
        var configs = packs.Select(p => Elementwise(p.Sum(x => x.NumElements))).ToList();
        int count = configs.Sum(c => c.GridDim.X);
        using var partials = Scratch(new Shape(2 * count), DType.F32);
        var partialView = View(partials).Cast<double>();
        int first = 0;
        for (int k = 0; k < packs.Count; k++)
        {
            var pack = new TensorPack32<SumSegment>();
            for (int i = 0; i < packs[k].Count; i++)
                pack.Set(i, new SumSegment { X = View(packs[k][i]), N = packs[k][i].NumElements });
            _kernels.Get<Action<AcceleratorStream, KernelConfig, TensorPack32<SumSegment>, long, ArrayView<double>, int>>(
                    PartialManyKernel, FloatElem(packs[k][0], name), op)
                (Stream, configs[k], pack, packs[k].Sum(x => x.NumElements), partialView, first);
            first += configs[k].GridDim.X;
        }
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<double>, int, ArrayView<float>, int>>(FinishIntoKernel)
            (Stream, new KernelConfig(1, _groupSize), partialView, count, F32View(acc, name, "accumulator"), slot);
    }
}
