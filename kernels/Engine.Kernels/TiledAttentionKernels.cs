// Prediction for an H200, b4 h32 d128 s2048 causal, bf16 in, fp32 math, written before any measurement, in the
// flops `engine bench kernels` credits (forward 4·b·h·s²·d/2, backward 2.5× that):
//   forward ≈ 25 TFLOP/s (range 15–35), backward ≈ 18 (10–25), forward+backward ≈ 19 (11–27).
// PyTorch SDPA on tensor cores: 450 forward, 359 forward+backward. This is the CUDA-core ceiling's neighbourhood;
// closing the gap needs mma.sync (tensor cores), not more tuning of this kernel.
// Why:
// - Ceiling: FP32 FMA peak ~67 TFLOP/s (132 SMs × 128 lanes × 2 × ~1.98 GHz). No tensor cores are used.
// - Forward, per 64-key tile per thread (Dh 128): S loop 32 × (64 FMA + 8 ld.shared.v4 + ~8 other), P·V loop
//   16 × (128 FMA + 12 ld.shared.v4 + ~10), softmax ~250, two global→shared tile copies ~400: ~5600 instructions
//   for 4096 FMAs, so issue caps FMAs at ~73% of peak (~49). Shared-memory bandwidth is below its limit (~0.75 and
//   ~0.6 wavefronts per SM clock at full FMA rate; 1 is the limit). ILGPU's address arithmetic (64-bit, per access)
//   may survive ptxas and push this towards 60–65%.
// - Occupancy: 83 KB of shared memory per 256-thread group → 2 groups (16 warps) per SM if ptxas stays at ≤ 128
//   registers (estimate ~110–125). Each tile's K and V copies (no cp.async from ILGPU) stall the group behind 4
//   barriers; only the other group hides them: ~25–35% lost. Causal diagonal tiles (3%) and the tail of 15.5 waves of
//   unequal tiles (heaviest first) ~5%. 67 × ~0.7 × ~0.7 × 0.95 × ILGPU overhead ≈ 25.
// - Memory is no limit: K/V are re-read per query tile from L2 (~0.4 TB/s at this rate); HBM sees q, k, v, o once.
// - Backward does 7 S-sized products (dK/dV kernel: S, dP, Pᵀ·dO, dSᵀ·Q; dQ kernel: S, dP, dS·K) where the flop count
//   credits 5, at ~77–79% FMA issue share, but in groups of 167 / 150 KB shared memory: one group (8 warps) per SM,
//   its Q/dO or K/V copies exposed (~15%), plus 3 barriers per step. ~0.4 of peak on actual FMAs ≈ 27 → 27 × 5/7 ≈ 18
//   credited. Forward+backward: 3.5 / (1/25 + 2.5/18) ≈ 19.

using System.Runtime.CompilerServices;
using ILGPU;
using static Engine.Kernels.AttentionTile;

namespace Engine.Kernels;

/// <summary>Flash-attention forward on CUDA cores (fp32 FMA, no tensor cores yet): a group of 256 threads owns 64 query
/// rows of one (batch, head); the Q tile is staged in shared memory once, then K and V tiles of 64 keys pass through one
/// shared buffer in turn. Each thread computes a 4×4 block of S = Q·Kᵀ (rows 4ty..4ty+3, keys tx, tx+16, tx+32,
/// tx+48), keeps the online-softmax state (max, sum) of its 4 rows in fp32, writes P to shared memory, and accumulates
/// a 4×(4·G) block of O (rows 4ty.., columns 4tx+64g..) in registers. Key tiles entirely above the causal diagonal, and
/// those entirely before the first key of the tile's first row (packed samples, sliding window) are never visited.
/// Semantics are those of <see cref="AttentionKernels.Forward{I,O}"/>.</summary>
internal static class TiledAttentionKernels
{
    /// <summary>o = softmax(scale·q·kᵀ, causal)·v; lse (when <paramref name="writeLse"/> ≠ 0) laid out [B, H, Tq].
    /// Launch with <see cref="AttentionTile.Threads"/> threads per group and
    /// <see cref="AttentionTile.ForwardFloats"/>(Dh) floats of dynamic shared memory; Dh ≤ 64·G.</summary>
    [GpuKernel]
    public static void Forward<I, O, D>(ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v, ArrayView<byte> o,
                                        ArrayView<float> lse, int writeLse, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement where D : struct, IHeadDimTile
    {
        int g2 = default(D).ColumnGroups;
        int dh = s.HeadDim, stride = Stride(dh), s4 = stride >> 2, quads = (dh + 3) >> 2;
        // Regions in Float4 units: each is 16-byte aligned in a way ILGPU can see, which it needs to emit ld.shared.v4.
        var smem = SharedMemory.GetDynamic<Float4>();
        var qs = smem.SubView(0, Rows * s4);
        var kv = smem.SubView(Rows * s4, Keys * s4);
        var ps = smem.SubView((Rows + Keys) * s4, Rows * ScoreStride / 4);
        var pf = ps.Cast<float>();
        int tx = Group.IdxX & 15, ty = Group.IdxX >> 4;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int qTiles = (s.Tq + Rows - 1) / Rows;
        long heads = (long)s.Batch * s.Heads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        // Operand offsets in Float4 units: this thread's 4 query rows, its 4 keys, its P rows, its output column quads
        // (clamped into the row: threads past Dh compute columns that are never stored).
        int qa = 4 * ty * s4, ka = tx * s4, pa = 4 * ty * (ScoreStride / 4);
        int c0 = Math.Min(tx, s4 - 1), c1 = Math.Min(tx + 16, s4 - 1);

        for (long tile = Grid.IdxX; tile < heads * qTiles; tile += Grid.DimX)
        {
            // The last query tiles see the most keys: hand them out first so the short ones fill the tail.
            int qt = qTiles - 1 - (int)(tile / heads);
            long bh = tile % heads;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads), kh = h / group;
            int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
            Load<I>(q, (((long)b * s.Tq + t0) * s.Heads + h) * dh, rowStride, rows, dh, qs, s4);
            long kvOrigin = ((long)b * s.Tk * s.KvHeads + kh) * dh;
            int lastKey = t0 + rows - 1 + offset;
            // Query position + offset of this thread's rows: key c is visible to row i when first_i ≤ c ≤ seen_i.
            int seen = t0 + 4 * ty + offset;
            int tr = t0 + 4 * ty, tl = s.Tq - 1; // rows past the end take the last row's first key (never stored)
            int f0 = AttentionKernels.FirstKey(starts, s, b, Math.Min(tr, tl));
            int f1 = AttentionKernels.FirstKey(starts, s, b, Math.Min(tr + 1, tl));
            int f2 = AttentionKernels.FirstKey(starts, s, b, Math.Min(tr + 2, tl));
            int f3 = AttentionKernels.FirstKey(starts, s, b, Math.Min(tr + 3, tl));
            // First keys never decrease down the rows, so the tile's first row says where its first visible key tile is.
            int firstTile = AttentionKernels.FirstKey(starts, s, b, t0) / Keys * Keys;
            float m0 = float.NegativeInfinity, m1 = m0, m2 = m0, m3 = m0;
            float l0 = 0f, l1 = 0f, l2 = 0f, l3 = 0f;
            Tile4 o0 = default, o1 = default;

            for (int j0 = firstTile; j0 <= lastKey; j0 += Keys)
            {
                int keys = Math.Min(Keys, s.Tk - j0);
                Group.Barrier(); // the previous tile's readers of kv and P are done
                Load<I>(k, kvOrigin + (long)j0 * kvRowStride, kvRowStride, keys, dh, kv, s4);
                Group.Barrier();

                Tile4 sc = default;
                Scores(ref sc, qs, qa, kv, ka, s4, quads);

                int c = j0 + tx, limit = s.Tk - 1;
                var p0 = Softmax(sc.R0, s.Scale, c, f0, Math.Min(seen, limit), ref m0, ref l0, out float r0);
                var p1 = Softmax(sc.R1, s.Scale, c, f1, Math.Min(seen + 1, limit), ref m1, ref l1, out float r1);
                var p2 = Softmax(sc.R2, s.Scale, c, f2, Math.Min(seen + 2, limit), ref m2, ref l2, out float r2);
                var p3 = Softmax(sc.R3, s.Scale, c, f3, Math.Min(seen + 3, limit), ref m3, ref l3, out float r3);
                var rescale = new Float4(r0, r1, r2, r3);
                o0.ScaleRows(rescale);
                if (g2 > 1) o1.ScaleRows(rescale);
                int pw = 4 * ty * ScoreStride + tx;
                StoreScores(pf, pw, p0);
                StoreScores(pf, pw + ScoreStride, p1);
                StoreScores(pf, pw + 2 * ScoreStride, p2);
                StoreScores(pf, pw + 3 * ScoreStride, p3);
                Group.Barrier(); // K is no longer read; P is complete

                Load<I>(v, kvOrigin + (long)j0 * kvRowStride, kvRowStride, keys, dh, kv, s4);
                Group.Barrier();
                // Keys past the last visible one have P = 0: stop at the quad holding it.
                Mix(ref o0, ref o1, g2, ps, pa, kv, s4, c0, c1, (Math.Min(Keys, lastKey + 1 - j0) + 3) >> 2);
            }

            l0 = RowSum(l0);
            l1 = RowSum(l1);
            l2 = RowSum(l2);
            l3 = RowSum(l3);
            var inv = new Float4(1f / l0, 1f / l1, 1f / l2, 1f / l3);
            o0.ScaleRows(inv);
            o1.ScaleRows(inv);
            int t = t0 + 4 * ty;
            long oa = (((long)b * s.Tq + t) * s.Heads + h) * dh + 4 * tx;
            StoreRow<O>(o, oa, t < s.Tq, 4 * tx, dh, g2, o0.R0, o1.R0);
            StoreRow<O>(o, oa + rowStride, t + 1 < s.Tq, 4 * tx, dh, g2, o0.R1, o1.R1);
            StoreRow<O>(o, oa + 2 * rowStride, t + 2 < s.Tq, 4 * tx, dh, g2, o0.R2, o1.R2);
            StoreRow<O>(o, oa + 3 * rowStride, t + 3 < s.Tq, 4 * tx, dh, g2, o0.R3, o1.R3);
            if (writeLse != 0 && tx == 0)
            {
                long la = bh * s.Tq + t;
                if (t < s.Tq) lse[la] = m0 + MathF.Log(l0);
                if (t + 1 < s.Tq) lse[la + 1] = m1 + MathF.Log(l1);
                if (t + 2 < s.Tq) lse[la + 2] = m2 + MathF.Log(l2);
                if (t + 3 < s.Tq) lse[la + 3] = m3 + MathF.Log(l3);
            }
        }
    }

    /// <summary>One row of the online softmax: scales the four scores of keys c, c+16, c+32, c+48 (those outside
    /// [<paramref name="first"/>, <paramref name="visible"/>] become −∞), takes the running max over the tile row, and
    /// returns exp(score − max); the running max and (per-thread partial) sum are updated, and
    /// <paramref name="rescale"/> = exp(old − new max) multiplies what was accumulated before. A row that has seen no
    /// key yet (its first key lies in a later tile) keeps max −∞; exponents are then taken against 0, so every p and
    /// the rescale are 0 and no −∞ − (−∞) arises.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 Softmax(Float4 sc, float scale, int c, int first, int visible, ref float m, ref float l, out float rescale)
    {
        var x = new Float4(
            c >= first && c <= visible ? sc.X * scale : float.NegativeInfinity,
            c + 16 >= first && c + 16 <= visible ? sc.Y * scale : float.NegativeInfinity,
            c + 32 >= first && c + 32 <= visible ? sc.Z * scale : float.NegativeInfinity,
            c + 48 >= first && c + 48 <= visible ? sc.W * scale : float.NegativeInfinity);
        float mNew = MathF.Max(m, RowMax(Float4.Max(x)));
        float mRef = mNew == float.NegativeInfinity ? 0f : mNew;
        rescale = MathF.Exp(m - mRef);
        var p = new Float4(MathF.Exp(x.X - mRef), MathF.Exp(x.Y - mRef), MathF.Exp(x.Z - mRef), MathF.Exp(x.W - mRef));
        l = l * rescale + Float4.Sum(p);
        m = mNew;
        return p;
    }
}
