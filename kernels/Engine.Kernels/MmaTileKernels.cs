using ILGPU;

namespace Engine.Kernels;

/// <summary>One warp, one <see cref="Mma.MmaBf16"/>: the smallest kernel that shows the fragment layout is right, on
/// ILGPU's CPU accelerator (the emulation) and on a GPU (the instruction) alike.</summary>
internal static class MmaTileKernels
{
    /// <summary>c += a·b for one tile: <paramref name="a"/> is A [16, 16] row-major in bf16 pairs ([16, 8] words),
    /// <paramref name="b"/> is Bᵀ [8, 16] row-major in bf16 pairs ([8, 8] words: row n holds column n of B),
    /// <paramref name="c"/> is C [16, 8] row-major fp32. Launch with one group of 32 threads.</summary>
    [GpuKernel]
    public static void Product(ArrayView<uint> a, ArrayView<uint> b, ArrayView<float> c)
    {
        int lane = Group.IdxX, g = lane >> 2, t = lane & 3;
        var acc = new Acc4 { C0 = c[g * 8 + 2 * t], C1 = c[g * 8 + 2 * t + 1], C2 = c[(g + 8) * 8 + 2 * t], C3 = c[(g + 8) * 8 + 2 * t + 1] };
        acc.Mma(a[g * 8 + t], a[(g + 8) * 8 + t], a[g * 8 + t + 4], a[(g + 8) * 8 + t + 4], b[g * 8 + t], b[g * 8 + t + 4]);
        c[g * 8 + 2 * t] = acc.C0;
        c[g * 8 + 2 * t + 1] = acc.C1;
        c[(g + 8) * 8 + 2 * t] = acc.C2;
        c[(g + 8) * 8 + 2 * t + 1] = acc.C3;
    }
}
