using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo RopeKernel = KernelCache.Method(typeof(RopeKernels), nameof(RopeKernels.Rotate));

    public void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        const string op = "rope";
        int n = positions.Shape[0];
        int half = cos.Shape.Last, dh = 2 * half;
        int heads = n == 0 || dh == 0 ? 0 : (int)(x.NumElements / ((long)n * dh));
        if ((long)n * heads * dh != x.NumElements || y.NumElements != x.NumElements)
            throw new ArgumentException($"rope: x {x.Shape} is not [{n}, H, {dh}]");
        if (cos.Shape != sin.Shape || cos.DType != sin.DType) throw new ArgumentException($"rope: cos {cos} and sin {sin} differ");
        if (x.NumElements == 0) return;
        var shape = new RopeShape { Tokens = n, Heads = heads, Half = half, MaxPosition = cos.Shape[0], Sign = inverse ? -1f : 1f };
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<int>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, RopeShape, ArrayView<int>>>(
                RopeKernel, FloatElem(x, op), FloatElem(y, op), FloatElem(cos, op))
            (Stream, Elementwise((long)n * heads * half), View(x), I32View(positions, op, "positions"), View(cos), View(sin), View(y), shape, _errors.View);
    }
}
