using Engine.Tensors;

namespace Engine.Backends;

/// <summary>A double kept in an fp32 tensor as a pair (high, low) with value high + low: the slots of
/// <see cref="IBackend.SumInto"/> and <see cref="IBackend.SumSquaresInto"/>, so totals accumulated on the device keep
/// about 48 bits across many adds without an fp64 dtype. The CUDA kernel (ReductionKernels.FinishInto) splits the same
/// way.</summary>
internal static class SplitDouble
{
    /// <summary>Elements a tensor needs for <paramref name="slots"/> slots.</summary>
    public static int Elements(int slots) => 2 * slots;

    public static double Read(ReadOnlySpan<float> acc, int slot) => (double)acc[2 * slot] + acc[2 * slot + 1];

    public static void Add(Span<float> acc, int slot, double value)
    {
        double total = Read(acc, slot) + value;
        float high = (float)total;
        acc[2 * slot] = high;
        acc[2 * slot + 1] = (float)(total - high);
    }

    /// <summary>Checks that <paramref name="acc"/> is an fp32 tensor with room for <paramref name="slot"/>.</summary>
    public static void Check(Tensor acc, int slot, string op)
    {
        if (acc.DType != DType.F32 || slot < 0 || 2 * slot + 1 >= acc.NumElements)
            throw new ArgumentException($"{op}: the accumulator must be an f32 tensor with elements {2 * slot} and {2 * slot + 1} (slot {slot}), got {acc}");
    }
}
