using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo BinaryKernel = KernelCache.Method(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Binary));
    private static readonly MethodInfo ScaleKernel = KernelCache.Method(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Scale));
    private static readonly MethodInfo AxpyKernel = KernelCache.Method(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Axpy));
    private static readonly MethodInfo BroadcastKernel = KernelCache.Method(typeof(ElementwiseKernels), nameof(ElementwiseKernels.BroadcastScalar));
    private static readonly MethodInfo DropoutKernel = KernelCache.Method(typeof(DropoutKernels), nameof(DropoutKernels.Dropout));

    public void Add(Tensor a, Tensor b, Tensor y) => Binary<AddOp>(a, b, y, "add");
    public void Mul(Tensor a, Tensor b, Tensor y) => Binary<MulOp>(a, b, y, "mul");

    private void Binary<TOp>(Tensor a, Tensor b, Tensor y, string op) where TOp : struct, IBinaryOp
    {
        SameSize(a, y, op); SameSize(b, y, op);
        long n = y.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, long>>(
                BinaryKernel, FloatElem(a, op), FloatElem(b, op), FloatElem(y, op), typeof(TOp))
            (Stream, Elementwise(n), View(a), View(b), View(y), n);
    }

    public void Scale(Tensor x, float alpha, Tensor y) => Unary(ScaleKernel, x, y, alpha, "scale");

    public void Axpy(float alpha, Tensor x, Tensor y) => Unary(AxpyKernel, x, y, alpha, "axpy");

    private void Unary(MethodInfo kernel, Tensor x, Tensor y, float alpha, string op)
    {
        SameSize(x, y, op);
        long n = y.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, long, float>>(kernel, FloatElem(x, op), FloatElem(y, op))
            (Stream, Elementwise(n), View(x), View(y), n, alpha);
    }

    public void Dropout(Tensor x, float p, ulong seed, Tensor y, bool accumulate = false)
    {
        SameSize(x, y, "dropout");
        long n = y.NumElements;
        if (n == 0) return;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, long, float, float, ulong, int>>(
                DropoutKernel, FloatElem(x, "dropout"), FloatElem(y, "dropout"))
            (Stream, Elementwise(n), View(x), View(y), n, p, 1f / (1f - p), seed, accumulate ? 1 : 0);
    }

    public void BroadcastScalar(Tensor s, float alpha, Tensor y)
    {
        long n = y.NumElements;
        if (n == 0) return;
        if (s.NumElements < 1) throw new ArgumentException($"broadcast: {s} holds no value");
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, long, float>>(
                BroadcastKernel, FloatElem(s, "broadcast"), FloatElem(y, "broadcast"))
            (Stream, Elementwise(n), View(s), View(y), n, alpha);
    }
}
