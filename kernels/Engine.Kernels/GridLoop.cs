using ILGPU;

namespace Engine.Kernels;

/// <summary>Indices for grid-stride loops: a kernel covers any number of elements with a bounded grid, and 64-bit
/// element indices (ILGPU's implicit indices are 32-bit).</summary>
internal static class GridLoop
{
    public static long Start => (long)Grid.IdxX * Group.DimX + Group.IdxX;
    public static long Stride => (long)Grid.DimX * Group.DimX;
}
