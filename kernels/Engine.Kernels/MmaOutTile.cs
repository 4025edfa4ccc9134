using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>One lane's share of a warp's 16-row × 64-column fp32 output block held as 8 m16n8 accumulator fragments
/// (<see cref="Acc4"/>: n-tile n covers columns 8n..8n+7), in named fields so they stay in registers (ILGPU puts
/// arrays in local memory). The tensor-core attention kernels use one per 64 head dimensions of each output.</summary>
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

    /// <summary>this += A·B for 16 k (keys or query rows): A (e.g. P) is the A fragment (a0..a3), B a row-major bf16
    /// tile in shared memory (rows k, columns this block's 64) read as B fragments with <see cref="Ldmatrix.X4Trans"/>,
    /// two n-tiles per load. <paramref name="at"/> is this lane's ldmatrix row address for the block's first column:
    /// the word of row k0 + (lane &amp; 15), column word (lane &gt;&gt; 4)·4 in the whole dynamic shared memory
    /// <paramref name="shared"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mix(uint a0, uint a1, uint a2, uint a3, ArrayView<uint> shared, int at)
    {
        Step(ref T0, ref T1, a0, a1, a2, a3, shared, at);
        Step(ref T2, ref T3, a0, a1, a2, a3, shared, at + 8);
        Step(ref T4, ref T5, a0, a1, a2, a3, shared, at + 16);
        Step(ref T6, ref T7, a0, a1, a2, a3, shared, at + 24);
    }

    /// <summary>Matrices 0 and 1 of the load are n-tile 0's b0 and b1 (k 0..7, 8..15), matrices 2 and 3 n-tile 1's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ref Acc4 left, ref Acc4 right, uint a0, uint a1, uint a2, uint a3, ArrayView<uint> shared, int at)
    {
        Ldmatrix.X4Trans(shared, at, out uint b0, out uint b1, out uint c0, out uint c1);
        left.Mma(a0, a1, a2, a3, b0, b1);
        right.Mma(a0, a1, a2, a3, c0, c1);
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
