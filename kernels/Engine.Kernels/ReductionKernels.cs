using ILGPU;

namespace Engine.Kernels;

/// <summary>What a reduction adds up per element.</summary>
internal interface IUnaryOp
{
    float Apply(float x);
    double Apply(double x);
}

internal readonly struct IdentityOp : IUnaryOp
{
    public float Apply(float x) => x;
    public double Apply(double x) => x;
}

internal readonly struct SquareOp : IUnaryOp
{
    public float Apply(float x) => x * x;
    public double Apply(double x) => x * x;
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

    /// <summary>Many tensors in one launch, for the training step's totals: each thread adds op(x) of its elements in
    /// fp64 (a square taken in fp64 cannot overflow, and no fp32 rounding builds up over a long tensor), each group
    /// writes one fp64 partial to partials[firstPartial + group]. <see cref="FinishInto"/> adds the partials of every
    /// pack of the call.</summary>
    [GpuKernel]
    public static void PartialMany<X, TOp>(TensorPack32<SumSegment> pack, long total, ArrayView<double> partials, int firstPartial)
        where X : struct, IElement where TOp : struct, IUnaryOp
    {
        var scratch = SharedMemory.Allocate<double>(BlockReduce.MaxGroupSize);
        var cursor = new PackCursor<SumSegment>(pack);
        double acc = 0;
        for (long i = GridLoop.Start; i < total; i += GridLoop.Stride)
        {
            long j = cursor.Seek(i);
            acc += default(TOp).Apply((double)default(X).Load(cursor.Current.X, j));
        }
        acc = BlockReduce.Sum(acc, scratch);
        if (Group.IdxX == 0) partials[firstPartial + Grid.IdxX] = acc;
    }

    /// <summary>acc slot += Σ partials[0..count) in fp64; launch with a single group. A slot is a pair of floats
    /// (high, low) at 2·slot whose sum keeps about 48 bits (see Engine.Backends.SplitDouble), so the totals stay fp64
    /// across the adds of a step without an fp64 tensor dtype.</summary>
    [GpuKernel]
    public static void FinishInto(ArrayView<double> partials, int count, ArrayView<float> acc, int slot)
    {
        var scratch = SharedMemory.Allocate<double>(BlockReduce.MaxGroupSize);
        double sum = 0;
        for (int i = Group.IdxX; i < count; i += Group.DimX) sum += partials[i];
        sum = BlockReduce.Sum(sum, scratch);
        if (Group.IdxX == 0)
        {
            double total = ((double)acc[2 * slot] + acc[2 * slot + 1]) + sum;
            float high = (float)total;
            acc[2 * slot] = high;
            acc[2 * slot + 1] = (float)(total - high);
        }
    }
}
