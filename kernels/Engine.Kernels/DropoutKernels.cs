using ILGPU;

namespace Engine.Kernels;

internal static class DropoutKernels
{
    /// <summary>Inverted dropout: element i is dropped when <see cref="DropoutHash.Uniform"/>(seed, i) &lt; p, otherwise
    /// scaled by <paramref name="keepScale"/> = 1/(1−p) (computed on the host as the CPU backend does). With
    /// <paramref name="accumulate"/> = 1 the result is added to y (a dropped element leaves y as it was); y is never
    /// read otherwise, so an uninitialised output cannot leak a NaN into it.</summary>
    [GpuKernel]
    public static void Dropout<X, Y>(ArrayView<byte> x, ArrayView<byte> y, long n, float p, float keepScale, ulong seed, int accumulate)
        where X : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            bool dropped = DropoutHash.Uniform(seed, i) < p;
            if (accumulate != 0)
            {
                if (!dropped) default(Y).Store(y, i, default(Y).Load(y, i) + default(X).Load(x, i) * keepScale);
            }
            else default(Y).Store(y, i, dropped ? 0f : default(X).Load(x, i) * keepScale);
        }
    }
}
