using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo CrossEntropyRowsKernel = KernelCache.Method(typeof(CrossEntropyKernels), nameof(CrossEntropyKernels.RowStats));
    private static readonly MethodInfo CrossEntropyBackwardKernel = KernelCache.Method(typeof(CrossEntropyKernels), nameof(CrossEntropyKernels.Backward));

    public void CrossEntropyForward(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse)
    {
        const string op = "cross-entropy";
        int v = logits.Shape.Last, n = (int)logits.Shape.Rows;
        if (targets.NumElements != n) throw new ArgumentException($"cross-entropy: {n} rows of logits but {targets.NumElements} targets");
        if (lse.NumElements != n || loss.NumElements < 1) throw new ArgumentException($"cross-entropy: lse {lse.Shape} should be [{n}], loss {loss.Shape} [1]");
        using var rowLoss = Scratch(new Shape(n), DType.F32);
        var rowView = View(rowLoss);
        if (n > 0)
        {
            _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<int>>>(
                    CrossEntropyRowsKernel, FloatElem(logits, op))
                (Stream, Rows(n, _groupSize), View(logits), I32View(targets, op, "targets"), F32View(lse, op, "lse"), rowView.Cast<float>(),
                 n, v, ignoreIndex, _errors.View);
        }
        SumInto(rowView, typeof(F32Elem), n, loss);
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, int ignoreIndex, Tensor lse, Tensor gradScale, Tensor dLogits)
    {
        const string op = "cross-entropy backward";
        int v = logits.Shape.Last;
        long n = logits.Shape.Rows;
        if (targets.NumElements != n || lse.NumElements != n || dLogits.NumElements != logits.NumElements || gradScale.NumElements < 1)
            throw new ArgumentException($"cross-entropy backward: logits {logits.Shape}, targets {targets.Shape}, lse {lse.Shape}, dLogits {dLogits.Shape}");
        if (logits.NumElements == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<byte>, ArrayView<byte>, long, int, int>>(
                CrossEntropyBackwardKernel, FloatElem(logits, op), FloatElem(gradScale, op), FloatElem(dLogits, op))
            (Stream, Elementwise(logits.NumElements), View(logits), I32View(targets, op, "targets"), F32View(lse, op, "lse"),
             View(gradScale), View(dLogits), n, v, ignoreIndex);
    }
}
