using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo RmsForwardKernel = KernelCache.Method(typeof(RmsNormKernels), nameof(RmsNormKernels.Forward));
    private static readonly MethodInfo RmsBackwardKernel = KernelCache.Method(typeof(RmsNormKernels), nameof(RmsNormKernels.Backward));
    private static readonly MethodInfo RmsWeightGradPartialKernel = KernelCache.Method(typeof(RmsNormKernels), nameof(RmsNormKernels.WeightGradPartial));
    private static readonly MethodInfo RmsWeightGradReduceKernel = KernelCache.Method(typeof(RmsNormKernels), nameof(RmsNormKernels.WeightGradReduce));

    public void RmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd)
    {
        int d = x.Shape.Last, n = (int)x.Shape.Rows;
        if (w.NumElements != d || rstd.NumElements != n || y.NumElements != x.NumElements)
            throw new ArgumentException($"rmsnorm: x {x.Shape}, w {w.Shape}, y {y.Shape}, rstd {rstd.Shape}");
        if (n == 0) return;
        const string op = "rmsnorm";
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, int, int, float>>(
                RmsForwardKernel, FloatElem(x, op), FloatElem(w, op), FloatElem(y, op))
            (Stream, Rows(n, _groupSize), View(x), View(w), View(y), F32View(rstd, op, "rstd"), n, d, eps);
    }

    public void RmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor? dw)
    {
        int d = x.Shape.Last, n = (int)x.Shape.Rows;
        if (w.NumElements != d || rstd.NumElements != n || dy.NumElements != x.NumElements || dx.NumElements != x.NumElements
            || (dw is not null && dw.NumElements != d))
            throw new ArgumentException($"rmsnorm backward: dy {dy.Shape}, x {x.Shape}, w {w.Shape}, rstd {rstd.Shape}, dx {dx.Shape}, dw {dw?.Shape}");
        if (n == 0) return;
        const string op = "rmsnorm backward";
        var rs = F32View(rstd, op, "rstd");
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<byte>, int, int>>(
                RmsBackwardKernel, FloatElem(dy, op), FloatElem(x, op), FloatElem(w, op), FloatElem(dx, op))
            (Stream, Rows(n, _groupSize), View(dy), View(x), View(w), rs, View(dx), n, d);
        if (dw is null) return;
        // Two passes over row chunks of 64: enough threads for every SM, and a fixed summation order.
        const int rowsPerChunk = 64;
        int chunks = (n + rowsPerChunk - 1) / rowsPerChunk;
        using var partial = Scratch(new Shape(chunks, d), DType.F32);
        var pv = View(partial).Cast<float>();
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, int, int, int>>(
                RmsWeightGradPartialKernel, FloatElem(dy, op), FloatElem(x, op))
            (Stream, Elementwise((long)chunks * d), View(dy), View(x), rs, pv, n, d, rowsPerChunk);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<byte>, int, int>>(
                RmsWeightGradReduceKernel, FloatElem(dw, op))
            (Stream, Elementwise(d), pv, View(dw), chunks, d);
    }
}
