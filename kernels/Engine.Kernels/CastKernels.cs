using ILGPU;

namespace Engine.Kernels;

/// <summary>dtype conversion: every conversion goes through fp32, which is exact for bf16, fp16 and small integers.</summary>
internal static class CastKernels
{
    [GpuKernel]
    public static void Cast<X, Y>(ArrayView<byte> x, ArrayView<byte> y, long n)
        where X : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, default(X).Load(x, i));
    }
}
