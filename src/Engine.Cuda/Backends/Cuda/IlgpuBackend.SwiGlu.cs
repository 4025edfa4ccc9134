using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo SwiGluForwardKernel = KernelCache.Method(typeof(SwiGluKernels), nameof(SwiGluKernels.Forward));
    private static readonly MethodInfo SwiGluBackwardKernel = KernelCache.Method(typeof(SwiGluKernels), nameof(SwiGluKernels.Backward));

    public void SwiGluForward(Tensor gate, Tensor up, Tensor y)
    {
        const string op = "swiglu";
        SameSize(gate, y, op); SameSize(up, y, op);
        long n = y.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, long>>(
                SwiGluForwardKernel, FloatElem(gate, op), FloatElem(up, op), FloatElem(y, op))
            (Stream, Elementwise(n), View(gate), View(up), View(y), n);
    }

    public void SwiGluBackward(Tensor dy, Tensor gate, Tensor up, Tensor dGate, Tensor dUp)
    {
        const string op = "swiglu backward";
        SameSize(gate, dy, op); SameSize(up, dy, op); SameSize(dGate, dy, op); SameSize(dUp, dy, op);
        long n = dy.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, long>>(
                SwiGluBackwardKernel, FloatElem(dy, op), FloatElem(gate, op), FloatElem(up, op), FloatElem(dGate, op), FloatElem(dUp, op))
            (Stream, Elementwise(n), View(dy), View(gate), View(up), View(dGate), View(dUp), n);
    }
}
