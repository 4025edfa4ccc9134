using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>The 16 query rows a warp owns in a 64-row tile of the tensor-core kernels (rows t0 + 16·warp ..), and this
/// lane's two of them, R0 (fragment row g) and R1 (g + 8), with the first key each sees. Rows past Tq take the last
/// row's first key: they are never stored, and the kernels give them no visible key. The warp's key range (first key
/// of its first row to the last key of its last row) lets a warp skip 16-key chunks none of its rows sees.</summary>
internal readonly struct MmaQueryRows
{
    public readonly int R0, R1, First0, First1, WarpFirst, WarpLast;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public MmaQueryRows(ArrayView<int> starts, AttentionShape s, int b, int t0, int warp, int g)
    {
        int last = s.Tq - 1, top = t0 + 16 * warp;
        R0 = top + g;
        R1 = R0 + 8;
        First0 = AttentionKernels.FirstKey(starts, s, b, Math.Min(R0, last));
        First1 = AttentionKernels.FirstKey(starts, s, b, Math.Min(R1, last));
        WarpFirst = AttentionKernels.FirstKey(starts, s, b, Math.Min(top, last));
        WarpLast = Math.Min(top + 15, last) + s.Tk - s.Tq;
    }

    /// <summary>No row of the warp sees keys <paramref name="kc"/>..kc+15 (the same for every lane of the warp).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Skips(int kc) => kc > WarpLast || kc + 15 < WarpFirst;
}
