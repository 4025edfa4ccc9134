using ILGPU;

namespace Engine.Kernels;

internal static class DropoutKernels
{
    /// <summary>Inverted dropout: element i is dropped when <see cref="DropoutHash.Uniform"/>(seed, i) &lt; p, otherwise
    /// scaled by <paramref name="keepScale"/> = 1/(1−p) (computed on the host as the CPU backend does).</summary>
    [GpuKernel]
    public static void Dropout<X, Y>(ArrayView<byte> x, ArrayView<byte> y, long n, float p, float keepScale, ulong seed)
        where X : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, DropoutHash.Uniform(seed, i) < p ? 0f : default(X).Load(x, i) * keepScale);
    }
}
