using ILGPU;

namespace Engine.Kernels;

/// <summary>Reductions over one thread group: warp shuffles, then one value per warp through shared memory.
/// Every thread of the group must call them (they contain barriers) and every thread gets the result. The group size
/// must be a multiple of the warp size; <paramref name="scratch"/> is shared memory of at least 32 floats.
/// The warp partials are added in a fixed order, so results are deterministic.</summary>
internal static class BlockReduce
{
    public const int ScratchSize = 32;
    /// <summary>Largest group a kernel launches (CUDA's limit); the fp64 sum's scratch holds one value per thread.</summary>
    public const int MaxGroupSize = 1024;

    /// <summary>fp64 sum through shared memory only (no 64-bit shuffles): every thread stores its value, each warp's
    /// first lane adds its warp's 32 in order, thread 0 adds the warps in order, so the result is deterministic.
    /// <paramref name="scratch"/> holds at least <see cref="MaxGroupSize"/> doubles.</summary>
    public static double Sum(double value, ArrayView<double> scratch)
    {
        scratch[Group.IdxX] = value;
        Group.Barrier();
        if (Warp.LaneIdx == 0)
        {
            double warp = 0;
            int first = Warp.WarpIdx * Warp.WarpSize;
            for (int l = 0; l < Warp.WarpSize; l++) warp += scratch[first + l];
            scratch[first] = warp;
        }
        Group.Barrier();
        double total = 0;
        for (int first = 0; first < Group.DimX; first += Warp.WarpSize) total += scratch[first];
        Group.Barrier();
        return total;
    }

    public static float Sum(float value, ArrayView<float> scratch)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) value += Warp.ShuffleXor(value, o);
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        float total = 0f;
        int warps = Group.DimX / Warp.WarpSize;
        for (int w = 0; w < warps; w++) total += scratch[w];
        Group.Barrier();
        return total;
    }

    public static float Max(float value, ArrayView<float> scratch)
    {
        for (int o = Warp.WarpSize / 2; o > 0; o >>= 1) value = MathF.Max(value, Warp.ShuffleXor(value, o));
        if (Warp.LaneIdx == 0) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        float best = float.NegativeInfinity;
        int warps = Group.DimX / Warp.WarpSize;
        for (int w = 0; w < warps; w++) best = MathF.Max(best, scratch[w]);
        Group.Barrier();
        return best;
    }
}
