using ILGPU;

namespace Engine.Kernels;

/// <summary>Reductions over one thread group: warp shuffles, then one value per warp through shared memory.
/// Every thread of the group must call them (they contain barriers) and every thread gets the result. The group size
/// must be a multiple of the warp size; <paramref name="scratch"/> is shared memory of at least 32 floats.
/// The warp partials are added in a fixed order, so results are deterministic.</summary>
internal static class BlockReduce
{
    public const int ScratchSize = 32;

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
