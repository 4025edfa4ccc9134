using ILGPU;

namespace Engine.Kernels;

/// <summary>A two-input elementwise function, a kernel type parameter so each op compiles to its own kernel.</summary>
internal interface IBinaryOp
{
    float Apply(float a, float b);
}

internal readonly struct AddOp : IBinaryOp
{
    public float Apply(float a, float b) => a + b;
}

internal readonly struct MulOp : IBinaryOp
{
    public float Apply(float a, float b) => a * b;
}

/// <summary>Elementwise kernels with grid-stride loops. Memory bound; performance work due: 128-bit loads
/// (Float4/Int4 views) once the tensors are known to be 16-byte aligned.</summary>
internal static class ElementwiseKernels
{
    [GpuKernel]
    public static void Binary<A, B, Y, TOp>(ArrayView<byte> a, ArrayView<byte> b, ArrayView<byte> y, long n)
        where A : struct, IElement where B : struct, IElement where Y : struct, IElement where TOp : struct, IBinaryOp
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, default(TOp).Apply(default(A).Load(a, i), default(B).Load(b, i)));
    }

    [GpuKernel]
    public static void Scale<X, Y>(ArrayView<byte> x, ArrayView<byte> y, long n, float alpha)
        where X : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, default(X).Load(x, i) * alpha);
    }

    /// <summary>y = x·alpha + y, the order of the CPU backend's MultiplyAdd.</summary>
    [GpuKernel]
    public static void Axpy<X, Y>(ArrayView<byte> x, ArrayView<byte> y, long n, float alpha)
        where X : struct, IElement where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, default(X).Load(x, i) * alpha + default(Y).Load(y, i));
    }

    /// <summary>y[i] = alpha·s[0] without reading s on the host.</summary>
    [GpuKernel]
    public static void BroadcastScalar<S, Y>(ArrayView<byte> s, ArrayView<byte> y, long n, float alpha)
        where S : struct, IElement where Y : struct, IElement
    {
        float v = alpha * default(S).Load(s, 0);
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, v);
    }

    [GpuKernel]
    public static void Fill<Y>(ArrayView<byte> y, long n, float value) where Y : struct, IElement
    {
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride)
            default(Y).Store(y, i, value);
    }
}
