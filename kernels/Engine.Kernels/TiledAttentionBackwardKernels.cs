using System.Runtime.CompilerServices;
using ILGPU;
using static Engine.Kernels.AttentionTile;

namespace Engine.Kernels;

/// <summary>Flash-attention backward (FlashAttention-2 order, deterministic, no atomics), on the tiles of
/// <see cref="TiledAttentionKernels"/>: <see cref="Delta{I}"/> computes D = rowsum(dO∘O); <see cref="KeyValueGrad"/>
/// gives a group 64 keys of one (batch, kv head) and walks every query row of every query head sharing that kv head,
/// accumulating dK and dV in registers; <see cref="QueryGrad"/> gives a group 64 query rows and walks their keys,
/// recomputing P, accumulating dQ in registers. Both recompute P = exp(scale·q·kᵀ − lse) and
/// dS = P∘(dO·vᵀ − D)·scale; each output element is written by exactly one thread, once.</summary>
internal static class TiledAttentionBackwardKernels
{
    /// <summary>delta[b, h, t] = Σ_d dO·o; one warp per query row (coalesced reads), fixed-order warp sum.</summary>
    [GpuKernel]
    public static void Delta<I>(ArrayView<byte> dO, ArrayView<byte> o, ArrayView<float> delta, AttentionShape s)
        where I : struct, IElement
    {
        long rows = (long)s.Batch * s.Heads * s.Tq;
        int lane = Warp.LaneIdx, warps = Group.DimX / Warp.WarpSize;
        for (long row = (long)Grid.IdxX * warps + Warp.WarpIdx; row < rows; row += (long)Grid.DimX * warps)
        {
            int t = (int)(row % s.Tq);
            long bh = row / s.Tq;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads);
            long at = (((long)b * s.Tq + t) * s.Heads + h) * s.HeadDim;
            float dot = 0f;
            for (int d = lane; d < s.HeadDim; d += Warp.WarpSize) dot += default(I).Load(dO, at + d) * default(I).Load(o, at + d);
            for (int off = Warp.WarpSize / 2; off > 0; off >>= 1) dot += Warp.ShuffleXor(dot, off);
            if (lane == 0) delta[row] = dot;
        }
    }

    /// <summary>dk, dv for 64 keys per group. Launch with <see cref="AttentionTile.Threads"/> threads and
    /// <see cref="AttentionTile.KeyValueGradFloats"/>(Dh) floats of dynamic shared memory. Per query tile: S and dP
    /// as 4×4 blocks (query rows 4ty.., keys tx+16j), P and dS through shared memory, then each thread adds
    /// Pᵀ·dO and dSᵀ·Q into its 4 keys (4ty..) × 4·G columns.</summary>
    [GpuKernel]
    public static void KeyValueGrad<I, O, D>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                             ArrayView<float> lse, ArrayView<float> delta,
                                             ArrayView<byte> dk, ArrayView<byte> dv, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement where D : struct, IHeadDimTile
    {
        int g2 = default(D).ColumnGroups;
        int dh = s.HeadDim, stride = Stride(dh), s4 = stride >> 2, quads = (dh + 3) >> 2;
        // Regions in Float4 units: each is 16-byte aligned in a way ILGPU can see, which it needs to emit ld.shared.v4.
        var smem = SharedMemory.GetDynamic<Float4>();
        int tile4 = Rows * s4, score4 = Rows * ScoreStride / 4;
        var ks = smem.SubView(0, tile4);
        var vs = smem.SubView(tile4, tile4);
        var qs = smem.SubView(2 * tile4, tile4);
        var gs = smem.SubView(3 * tile4, tile4);
        var pf4 = smem.SubView(4 * tile4, score4);
        var df4 = smem.SubView(4 * tile4 + score4, score4);
        var stats4 = smem.SubView(4 * tile4 + 2 * score4, 2 * Rows / 4);
        var pf = pf4.Cast<float>();
        var df = df4.Cast<float>();
        var stats = stats4.Cast<float>();
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int kTiles = (s.Tk + Keys - 1) / Keys, qTiles = (s.Tq + Rows - 1) / Rows;
        long kvHeads = (long)s.Batch * s.KvHeads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        int qa = 4 * ty * s4, ka = tx * s4;
        int c0 = Math.Min(tx, s4 - 1), c1 = Math.Min(tx + 16, s4 - 1);

        for (long tile = Grid.IdxX; tile < kvHeads * kTiles; tile += Grid.DimX)
        {
            // Key tile 0 is seen by every query tile: the heaviest tiles go first.
            int kt = (int)(tile / kvHeads);
            long bk = tile % kvHeads;
            int kh = (int)(bk % s.KvHeads), b = (int)(bk / s.KvHeads);
            int j0 = kt * Keys, keys = Math.Min(Keys, s.Tk - j0);
            long kvOrigin = (((long)b * s.Tk + j0) * s.KvHeads + kh) * dh;
            // No barrier needed: every thread has passed the previous tile's last S phase, the only reader of ks/vs.
            Load<I>(k, kvOrigin, kvRowStride, keys, dh, ks, s4);
            Load<I>(v, kvOrigin, kvRowStride, keys, dh, vs, s4);
            Tile4 dk0 = default, dk1 = default, dv0 = default, dv1 = default;
            // Query t sees key j when j ≤ t + offset: the first query tile holding a row that sees key j0.
            int firstQt = Math.Max(0, j0 - offset) / Rows;

            for (int h = kh * group; h < (kh + 1) * group; h++)
            {
                long bh = (long)b * s.Heads + h;
                for (int qt = firstQt; qt < qTiles; qt++)
                {
                    int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
                    // First keys never decrease down the rows: once a tile's first row starts past these keys
                    // (a later sample, or the window moved on), so do all later tiles. The same for every thread.
                    if (AttentionKernels.FirstKey(starts, s, b, t0) >= j0 + keys) break;
                    long qOrigin = (((long)b * s.Tq + t0) * s.Heads + h) * dh;
                    Group.Barrier(); // the previous query tile's readers are done
                    Load<I>(q, qOrigin, rowStride, rows, dh, qs, s4);
                    Load<I>(dO, qOrigin, rowStride, rows, dh, gs, s4);
                    LoadStats(stats, lse, delta, bh * s.Tq + t0, rows);
                    Group.Barrier();

                    Tile4 sc = default, dp = default;
                    Scores(ref sc, qs, qa, ks, ka, s4, quads);
                    Scores(ref dp, gs, qa, vs, ka, s4, quads);
                    var l4 = stats4[ty];
                    var d4 = stats4[Rows / 4 + ty];
                    int c = j0 + tx, t = t0 + 4 * ty, limit = s.Tk - 1;
                    int pw = 4 * ty * ScoreStride + tx;
                    Grad(sc.R0, dp.R0, s.Scale, l4.X, d4.X, c, First(starts, s, b, t), Visible(t, s.Tq, offset, limit), out var p, out var ds);
                    StoreScores(pf, pw, p);
                    StoreScores(df, pw, ds);
                    Grad(sc.R1, dp.R1, s.Scale, l4.Y, d4.Y, c, First(starts, s, b, t + 1), Visible(t + 1, s.Tq, offset, limit), out p, out ds);
                    StoreScores(pf, pw + ScoreStride, p);
                    StoreScores(df, pw + ScoreStride, ds);
                    Grad(sc.R2, dp.R2, s.Scale, l4.Z, d4.Z, c, First(starts, s, b, t + 2), Visible(t + 2, s.Tq, offset, limit), out p, out ds);
                    StoreScores(pf, pw + 2 * ScoreStride, p);
                    StoreScores(df, pw + 2 * ScoreStride, ds);
                    Grad(sc.R3, dp.R3, s.Scale, l4.W, d4.W, c, First(starts, s, b, t + 3), Visible(t + 3, s.Tq, offset, limit), out p, out ds);
                    StoreScores(pf, pw + 3 * ScoreStride, p);
                    StoreScores(df, pw + 3 * ScoreStride, ds);
                    Group.Barrier();

                    // dV += Pᵀ·dO, dK += dSᵀ·Q over the tile's valid query rows (the others have P = dS = 0).
                    var g0 = gs.SubView(c0);
                    var g1 = gs.SubView(c1);
                    var x0 = qs.SubView(c0);
                    var x1 = qs.SubView(c1);
                    for (int r = 0; r < rows; r++)
                    {
                        var pk = pf4[r * (ScoreStride / 4) + ty];
                        var dsk = df4[r * (ScoreStride / 4) + ty];
                        int at = r * s4;
                        dv0.Outer(pk, g0[at]);
                        dk0.Outer(dsk, x0[at]);
                        if (g2 > 1)
                        {
                            dv1.Outer(pk, g1[at]);
                            dk1.Outer(dsk, x1[at]);
                        }
                    }
                }
            }

            int j = j0 + 4 * ty;
            long oa = (((long)b * s.Tk + j) * s.KvHeads + kh) * dh + 4 * tx;
            StoreRow<O>(dk, oa, j < s.Tk, 4 * tx, dh, g2, dk0.R0, dk1.R0);
            StoreRow<O>(dk, oa + kvRowStride, j + 1 < s.Tk, 4 * tx, dh, g2, dk0.R1, dk1.R1);
            StoreRow<O>(dk, oa + 2 * kvRowStride, j + 2 < s.Tk, 4 * tx, dh, g2, dk0.R2, dk1.R2);
            StoreRow<O>(dk, oa + 3 * kvRowStride, j + 3 < s.Tk, 4 * tx, dh, g2, dk0.R3, dk1.R3);
            StoreRow<O>(dv, oa, j < s.Tk, 4 * tx, dh, g2, dv0.R0, dv1.R0);
            StoreRow<O>(dv, oa + kvRowStride, j + 1 < s.Tk, 4 * tx, dh, g2, dv0.R1, dv1.R1);
            StoreRow<O>(dv, oa + 2 * kvRowStride, j + 2 < s.Tk, 4 * tx, dh, g2, dv0.R2, dv1.R2);
            StoreRow<O>(dv, oa + 3 * kvRowStride, j + 3 < s.Tk, 4 * tx, dh, g2, dv0.R3, dv1.R3);
        }
    }

    /// <summary>dq for 64 query rows per group. Launch with <see cref="AttentionTile.Threads"/> threads and
    /// <see cref="AttentionTile.QueryGradFloats"/>(Dh) floats of dynamic shared memory. Per key tile: S and dP as in
    /// <see cref="KeyValueGrad"/>, dS through shared memory, then dQ += dS·K into the thread's 4 rows × 4·G columns.</summary>
    [GpuKernel]
    public static void QueryGrad<I, O, D>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                          ArrayView<float> lse, ArrayView<float> delta, ArrayView<byte> dq, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement where D : struct, IHeadDimTile
    {
        int g2 = default(D).ColumnGroups;
        int dh = s.HeadDim, stride = Stride(dh), s4 = stride >> 2, quads = (dh + 3) >> 2;
        var smem = SharedMemory.GetDynamic<Float4>(); // Float4 regions: see KeyValueGrad
        int tile4 = Rows * s4, score4 = Rows * ScoreStride / 4;
        var qs = smem.SubView(0, tile4);
        var gs = smem.SubView(tile4, tile4);
        var ks = smem.SubView(2 * tile4, tile4);
        var vs = smem.SubView(3 * tile4, tile4);
        var df4 = smem.SubView(4 * tile4, score4);
        var stats4 = smem.SubView(4 * tile4 + score4, 2 * Rows / 4);
        var df = df4.Cast<float>();
        var stats = stats4.Cast<float>();
        int tid = Group.IdxX, tx = tid & 15, ty = tid >> 4;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int qTiles = (s.Tq + Rows - 1) / Rows;
        long heads = (long)s.Batch * s.Heads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        int qa = 4 * ty * s4, ka = tx * s4, pa = 4 * ty * (ScoreStride / 4);
        int c0 = Math.Min(tx, s4 - 1), c1 = Math.Min(tx + 16, s4 - 1);

        for (long tile = Grid.IdxX; tile < heads * qTiles; tile += Grid.DimX)
        {
            int qt = qTiles - 1 - (int)(tile / heads);
            long bh = tile % heads;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads), kh = h / group;
            int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
            long qOrigin = (((long)b * s.Tq + t0) * s.Heads + h) * dh;
            Load<I>(q, qOrigin, rowStride, rows, dh, qs, s4);
            Load<I>(dO, qOrigin, rowStride, rows, dh, gs, s4);
            LoadStats(stats, lse, delta, bh * s.Tq + t0, rows);
            long kvOrigin = ((long)b * s.Tk * s.KvHeads + kh) * dh;
            int lastKey = t0 + rows - 1 + offset;
            int t = t0 + 4 * ty, limit = s.Tk - 1;
            int f0 = First(starts, s, b, t), f1 = First(starts, s, b, t + 1), f2 = First(starts, s, b, t + 2), f3 = First(starts, s, b, t + 3);
            Tile4 a0 = default, a1 = default;

            // Key tiles wholly before the first row's first key are skipped (first keys never decrease down the rows).
            for (int j0 = AttentionKernels.FirstKey(starts, s, b, t0) / Keys * Keys; j0 <= lastKey; j0 += Keys)
            {
                int keys = Math.Min(Keys, s.Tk - j0);
                Group.Barrier(); // the previous tile's readers of ks, vs and dS are done
                Load<I>(k, kvOrigin + (long)j0 * kvRowStride, kvRowStride, keys, dh, ks, s4);
                Load<I>(v, kvOrigin + (long)j0 * kvRowStride, kvRowStride, keys, dh, vs, s4);
                Group.Barrier();

                Tile4 sc = default, dp = default;
                Scores(ref sc, qs, qa, ks, ka, s4, quads);
                Scores(ref dp, gs, qa, vs, ka, s4, quads);
                var l4 = stats4[ty];
                var d4 = stats4[Rows / 4 + ty];
                int c = j0 + tx;
                int pw = 4 * ty * ScoreStride + tx;
                Grad(sc.R0, dp.R0, s.Scale, l4.X, d4.X, c, f0, Visible(t, s.Tq, offset, limit), out _, out var ds);
                StoreScores(df, pw, ds);
                Grad(sc.R1, dp.R1, s.Scale, l4.Y, d4.Y, c, f1, Visible(t + 1, s.Tq, offset, limit), out _, out ds);
                StoreScores(df, pw + ScoreStride, ds);
                Grad(sc.R2, dp.R2, s.Scale, l4.Z, d4.Z, c, f2, Visible(t + 2, s.Tq, offset, limit), out _, out ds);
                StoreScores(df, pw + 2 * ScoreStride, ds);
                Grad(sc.R3, dp.R3, s.Scale, l4.W, d4.W, c, f3, Visible(t + 3, s.Tq, offset, limit), out _, out ds);
                StoreScores(df, pw + 3 * ScoreStride, ds);
                Group.Barrier();

                Mix(ref a0, ref a1, g2, df4, pa, ks, s4, c0, c1, (Math.Min(Keys, lastKey + 1 - j0) + 3) >> 2);
            }

            long oa = (((long)b * s.Tq + t) * s.Heads + h) * dh + 4 * tx;
            StoreRow<O>(dq, oa, t < s.Tq, 4 * tx, dh, g2, a0.R0, a1.R0);
            StoreRow<O>(dq, oa + rowStride, t + 1 < s.Tq, 4 * tx, dh, g2, a0.R1, a1.R1);
            StoreRow<O>(dq, oa + 2 * rowStride, t + 2 < s.Tq, 4 * tx, dh, g2, a0.R2, a1.R2);
            StoreRow<O>(dq, oa + 3 * rowStride, t + 3 < s.Tq, 4 * tx, dh, g2, a0.R3, a1.R3);
        }
    }

    /// <summary>The first key query row <paramref name="t"/> sees (rows past the end take the last row's; they see nothing
    /// anyway, see <see cref="Visible"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int First(ArrayView<int> starts, AttentionShape s, int b, int t) => AttentionKernels.FirstKey(starts, s, b, Math.Min(t, s.Tq - 1));

    /// <summary>The last key query row <paramref name="t"/> sees (−1 for rows past the end of the tile's data).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Visible(int t, int tq, int offset, int lastKey) => t < tq ? Math.Min(t + offset, lastKey) : -1;

    /// <summary>lse then delta of rows [first, first + rows) into <paramref name="stats"/> [2 × Rows]; zeros past the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadStats(ArrayView<float> stats, ArrayView<float> lse, ArrayView<float> delta, long first, int rows)
    {
        int i = Group.IdxX;
        if (i < Rows) stats[i] = i < rows ? lse[first + i] : 0f;
        else if (i < 2 * Rows) stats[i] = i - Rows < rows ? delta[first + i - Rows] : 0f;
    }

    /// <summary>P = exp(scale·S − lse) for the visible keys (in [<paramref name="first"/>, <paramref name="visible"/>])
    /// among c, c+16, c+32, c+48 of one row (0 elsewhere) and dS = P∘(dP − delta)·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Grad(Float4 sc, Float4 dp, float scale, float lse, float delta, int c, int first, int visible, out Float4 p, out Float4 ds)
    {
        p = new Float4(
            c >= first && c <= visible ? MathF.Exp(scale * sc.X - lse) : 0f,
            c + 16 >= first && c + 16 <= visible ? MathF.Exp(scale * sc.Y - lse) : 0f,
            c + 32 >= first && c + 32 <= visible ? MathF.Exp(scale * sc.Z - lse) : 0f,
            c + 48 >= first && c + 48 <= visible ? MathF.Exp(scale * sc.W - lse) : 0f);
        ds = new Float4(p.X * (dp.X - delta) * scale, p.Y * (dp.Y - delta) * scale, p.Z * (dp.Z - delta) * scale, p.W * (dp.W - delta) * scale);
    }
}
