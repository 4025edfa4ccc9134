using ILGPU;

namespace Engine.Kernels;

/// <summary>y = silu(gate)·up and its backward, one thread per element (memory bound).</summary>
internal static class SwiGluKernels
{
    [GpuKernel]
    public static void Forward<G, U, Y>(ArrayView<byte> gate, ArrayView<byte> up, ArrayView<byte> y, long n)
        where G : struct, IElement where U : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            float g = default(G).Load(gate, i);
            default(Y).Store(y, i, g / (1f + MathF.Exp(-g)) * default(U).Load(up, i));
        }
    }

    /// <summary>dUp = dy·silu(g); dGate = dy·up·σ(g)·(1 + g·(1 − σ(g))), written as the CPU backend does.</summary>
    [GpuKernel]
    public static void Backward<D, G, U, DG, DU>(ArrayView<byte> dy, ArrayView<byte> gate, ArrayView<byte> up,
                                                 ArrayView<byte> dGate, ArrayView<byte> dUp, long n)
        where D : struct, IElement where G : struct, IElement where U : struct, IElement
        where DG : struct, IElement where DU : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
        {
            float g = default(G).Load(gate, i);
            float s = 1f / (1f + MathF.Exp(-g));
            float d = default(D).Load(dy, i);
            float silu = g * s;
            default(DU).Store(dUp, i, d * silu);
            default(DG).Store(dGate, i, d * default(U).Load(up, i) * (s + silu * (1f - s)));
        }
    }
}
