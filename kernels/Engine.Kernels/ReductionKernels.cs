using ILGPU;

namespace Engine.Kernels;

/// <summary>What a reduction adds up per element.</summary>
internal interface IUnaryOp
{
    float Apply(float x);
}

internal readonly struct IdentityOp : IUnaryOp
{
    public float Apply(float x) => x;
}

internal readonly struct SquareOp : IUnaryOp
{
    public float Apply(float x) => x * x;
}

/// <summary>Two-stage fp32 sums: <see cref="Partial{X,TOp}"/> leaves one sum per group, <see cref="Finish{Y}"/> adds
/// those in one group. Both stages run in a fixed order, so the result does not depend on timing.</summary>
internal static class ReductionKernels
{
    [GpuKernel]
    public static void Partial<X, TOp>(ArrayView<byte> x, long n, ArrayView<float> partials)
        where X : struct, IElement where TOp : struct, IUnaryOp
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        float acc = 0f;
        for (long i = GridLoop.Start; i < n; i += GridLoop.Stride) acc += default(TOp).Apply(default(X).Load(x, i));
        acc = BlockReduce.Sum(acc, scratch);
        if (Group.IdxX == 0) partials[Grid.IdxX] = acc;
    }

    /// <summary>y[0] = Σ partials[0..count); launch with a single group.</summary>
    [GpuKernel]
    public static void Finish<Y>(ArrayView<float> partials, int count, ArrayView<byte> y) where Y : struct, IElement
    {
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        float acc = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX) acc += partials[i];
        acc = BlockReduce.Sum(acc, scratch);
        if (Group.IdxX == 0) default(Y).Store(y, 0, acc);
    }
}
