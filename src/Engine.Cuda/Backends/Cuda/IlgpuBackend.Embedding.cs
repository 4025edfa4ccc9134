using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo EmbeddingForwardKernel = KernelCache.Method(typeof(EmbeddingKernels), nameof(EmbeddingKernels.Forward));
    private static readonly MethodInfo EmbeddingBackwardKernel = KernelCache.Method(typeof(EmbeddingKernels), nameof(EmbeddingKernels.Backward));

    public void EmbeddingForward(Tensor weight, Tensor ids, Tensor y)
    {
        const string op = "embedding";
        int d = weight.Shape.Last, v = (int)weight.Shape.Rows;
        long rows = ids.NumElements;
        if (y.NumElements != rows * d) throw new ArgumentException($"embedding output {y.Shape} should be [{rows}, {d}]");
        if (y.NumElements == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<int>, ArrayView<byte>, long, int, int, ArrayView<int>>>(
                EmbeddingForwardKernel, FloatElem(weight, op), FloatElem(y, op))
            (Stream, Elementwise(rows * d), View(weight), I32View(ids, op, "ids"), View(y), rows, d, v, _errors.View);
    }

    public void EmbeddingBackward(Tensor dy, Tensor ids, Tensor dWeight)
    {
        const string op = "embedding backward";
        int d = dWeight.Shape.Last, v = (int)dWeight.Shape.Rows;
        long rows = ids.NumElements;
        if (dy.NumElements != rows * d) throw new ArgumentException($"embedding backward: dy {dy.Shape} should be [{rows}, {d}]");
        if (dy.NumElements == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<int>, ArrayView<float>, long, int, int, ArrayView<int>>>(
                EmbeddingBackwardKernel, FloatElem(dy, op))
            (Stream, Elementwise(rows * d), View(dy), I32View(ids, op, "ids"), F32View(dWeight, op, "dWeight"), rows, d, v, _errors.View);
    }
}
