using ILGPU;

namespace Engine.Kernels;

/// <summary>One warp, one <see cref="Mma.MmaBf16"/> or one <see cref="Ldmatrix"/> load: the smallest kernels that show
/// the fragment layouts are right, on ILGPU's CPU accelerator (the emulation) and on a GPU (the instruction) alike.</summary>
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

    /// <summary>One warp-wide <see cref="Ldmatrix.X4"/> (or <see cref="Ldmatrix.X4Trans"/> when
    /// <paramref name="transpose"/> ≠ 0) from a table in dynamic shared memory: <paramref name="table"/> is copied there
    /// first, lane i then supplies word <paramref name="rows"/>[i] as its row address, and writes its registers r0..r3
    /// to <paramref name="result"/>[4i..4i+3]. Launch with one group of 32 threads and the table's length in words of
    /// dynamic shared memory.</summary>
    [GpuKernel]
    public static void LoadMatrix(ArrayView<uint> table, ArrayView<int> rows, ArrayView<uint> result, int transpose)
    {
        var shared = SharedMemory.GetDynamic<uint>();
        int lane = Group.IdxX;
        for (int i = lane; i < table.IntLength; i += 32) shared[i] = table[i];
        Group.Barrier();
        uint r0, r1, r2, r3;
        if (transpose != 0) Ldmatrix.X4Trans(shared, rows[lane], out r0, out r1, out r2, out r3);
        else Ldmatrix.X4(shared, rows[lane], out r0, out r1, out r2, out r3);
        result[4 * lane] = r0;
        result[4 * lane + 1] = r1;
        result[4 * lane + 2] = r2;
        result[4 * lane + 3] = r3;
    }
}
