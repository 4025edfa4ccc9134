using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>One lane's share of a warp's 16-row × 64-column fp32 output block held as 8 m16n8 accumulator fragments
/// (<see cref="Acc4"/>: n-tile n covers columns 8n..8n+7), in named fields so they stay in registers (ILGPU puts
/// arrays in local memory). <see cref="MmaAttentionKernels"/> uses one per 64 head dimensions.</summary>
internal struct MmaOutTile
{
    public Acc4 T0, T1, T2, T3, T4, T5, T6, T7;

    /// <summary>Row g's values times <paramref name="top"/>, row g+8's times <paramref name="bottom"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ScaleRows(float top, float bottom)
    {
        T0.ScaleRows(top, bottom);
        T1.ScaleRows(top, bottom);
        T2.ScaleRows(top, bottom);
        T3.ScaleRows(top, bottom);
        T4.ScaleRows(top, bottom);
        T5.ScaleRows(top, bottom);
        T6.ScaleRows(top, bottom);
        T7.ScaleRows(top, bottom);
    }

    /// <summary>this += P·V for 16 keys: P is the A fragment (a0..a3), V a bf16 tile in shared memory read as B
    /// fragments, <paramref name="at"/> the index of V[2t][g] of this block's first column and <paramref name="row"/>
    /// V's row stride in bf16s. Each B register pairs two keys of one column (plain 16-bit loads; ldmatrix.trans later).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mix(uint a0, uint a1, uint a2, uint a3, ArrayView<ushort> vh, int at, int row)
    {
        Step(ref T0, a0, a1, a2, a3, vh, at, row);
        Step(ref T1, a0, a1, a2, a3, vh, at + 8, row);
        Step(ref T2, a0, a1, a2, a3, vh, at + 16, row);
        Step(ref T3, a0, a1, a2, a3, vh, at + 24, row);
        Step(ref T4, a0, a1, a2, a3, vh, at + 32, row);
        Step(ref T5, a0, a1, a2, a3, vh, at + 40, row);
        Step(ref T6, a0, a1, a2, a3, vh, at + 48, row);
        Step(ref T7, a0, a1, a2, a3, vh, at + 56, row);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ref Acc4 acc, uint a0, uint a1, uint a2, uint a3, ArrayView<ushort> vh, int at, int row)
    {
        uint b0 = vh[at] | ((uint)vh[at + row] << 16);
        uint b1 = vh[at + 8 * row] | ((uint)vh[at + 9 * row] << 16);
        acc.Mma(a0, a1, a2, a3, b0, b1);
    }

    /// <summary>Stores the block's two rows (columns 2t, 2t+1 of each n-tile): row g at element <paramref name="top"/>
    /// scaled by <paramref name="topScale"/>, row g+8 at <paramref name="bottom"/>; rows not valid are skipped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store<O>(ArrayView<byte> dst, long top, bool topValid, long bottom, bool bottomValid, float topScale, float bottomScale)
        where O : struct, IElement
    {
        if (topValid)
        {
            Pair<O>(dst, top, T0.C0 * topScale, T0.C1 * topScale);
            Pair<O>(dst, top + 8, T1.C0 * topScale, T1.C1 * topScale);
            Pair<O>(dst, top + 16, T2.C0 * topScale, T2.C1 * topScale);
            Pair<O>(dst, top + 24, T3.C0 * topScale, T3.C1 * topScale);
            Pair<O>(dst, top + 32, T4.C0 * topScale, T4.C1 * topScale);
            Pair<O>(dst, top + 40, T5.C0 * topScale, T5.C1 * topScale);
            Pair<O>(dst, top + 48, T6.C0 * topScale, T6.C1 * topScale);
            Pair<O>(dst, top + 56, T7.C0 * topScale, T7.C1 * topScale);
        }
        if (bottomValid)
        {
            Pair<O>(dst, bottom, T0.C2 * bottomScale, T0.C3 * bottomScale);
            Pair<O>(dst, bottom + 8, T1.C2 * bottomScale, T1.C3 * bottomScale);
            Pair<O>(dst, bottom + 16, T2.C2 * bottomScale, T2.C3 * bottomScale);
            Pair<O>(dst, bottom + 24, T3.C2 * bottomScale, T3.C3 * bottomScale);
            Pair<O>(dst, bottom + 32, T4.C2 * bottomScale, T4.C3 * bottomScale);
            Pair<O>(dst, bottom + 40, T5.C2 * bottomScale, T5.C3 * bottomScale);
            Pair<O>(dst, bottom + 48, T6.C2 * bottomScale, T6.C3 * bottomScale);
            Pair<O>(dst, bottom + 56, T7.C2 * bottomScale, T7.C3 * bottomScale);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair<O>(ArrayView<byte> dst, long at, float x, float y) where O : struct, IElement
    {
        default(O).Store(dst, at, x);
        default(O).Store(dst, at + 1, y);
    }
}
