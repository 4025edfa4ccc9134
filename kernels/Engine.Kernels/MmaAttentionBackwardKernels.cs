// Prediction for an H200, b4 h32 d128 causal, bf16, forward + backward (the figure SDPA's peer bench reports: 3.5× the
// forward's credited flops 4·b·h·s²·d/2 over the summed time), written before any measurement: s = 2048–8192,
// 80–170 TFLOP/s, i.e. 0.2–0.4× SDPA's 359 / 472 / 490 (fwd+bwd, GPU.md); the backward alone (2.5× flops) 70–150
// TFLOP/s against the tiled fp32 backward's ~20. Why:
// - Work: the separate, deterministic dQ pass recomputes S and dP, so 7 m16n8k16 products per (16 query, 16 key, 16
//   of Dh) block where FA2 with atomic dQ does 5: 1.4× the tensor work of the ideal, before any other loss.
// - The dK/dV kernel holds 2·Dh/8 accumulator fragments per lane (128 fp32 registers at Dh 128) plus 16 for Sᵀ and
//   dPᵀ: expect 200–255 registers per thread, so 2 groups (8 warps) per SM at best and possibly spills at Dh 128 (a
//   spill here would cost far more than the prediction allows: see check 2). The dQ kernel is the forward's shape
//   (64 accumulators), 3–4 groups per SM.
// - As in the forward: tiles go global → registers → shared with plain loads and two barriers per tile (no cp.async:
//   see below), software bf16 packing of P and dS, ILGPU's .local round trip of every asm operand (folded only at O2).
//   ldmatrix now feeds every fragment: 1 load per 2 mma (A and Bᵀ tiles, and .trans for dO, Q and K as B), against
//   1.5–2 plain shared loads per mma before. Issue-bound rather than tensor-bound: ~30–50 other instructions per mma.
// - Causal skipping at 16×16 granularity per warp: chunks wholly above the diagonal or before a row's first key
//   (segments, window) cost nothing but the warp's test; the dK/dV pass hands out key tile 0 (the longest) first.
// No cp.async double buffering: cp.async needs the global source address in a register, and ILGPU 1.5.3 has no way
// to pass a pointer (or an ArrayView's address) into inline PTX (Unsafe.AsPointer and fixed do not compile; see
// ilgpu-cuda-notes §2). The host could pass raw device addresses as extra long arguments, but then the kernel would
// carry two sources of truth for every tile (the address for CUDA, the view for the CPU accelerator) with nothing on
// the CPU side to check the address arithmetic; that is not clean, so it waits for a measurement that says the tile
// loads are what limits the kernel.
// First GPU run must check, in this order:
// 1. Correctness: `engine selftest --device cuda` runs the attention cases with [Mma] (bf16, Dh 128 rows: causal with
//    Tk > Tq, GQA, packed segments, windows): the backward dq, dk, dv rows now come from these kernels. Then the
//    ldmatrix rows ("ldmatrix m8n8.x4" and ".trans" against the ISA layout): if they fail, the __dyn_shared_alloca
//    address (see Ldmatrix) is wrong on the device and every Mma kernel is too.
// 2. ptxas -v (or cuFuncGetAttribute LOCAL_SIZE_BYTES) for KeyValueGrad and QueryGrad at Dh 64 and 128, built at O2:
//    registers and spill stores. Only the asm operands' small frame may remain; spilled dK/dV accumulators at Dh 128
//    mean splitting the kernel's Dh across two warps per key block (each warp half the columns) before anything else.
// 3. `engine bench kernels`: "attention bwd (causal, mma)" beside "attention bwd (causal, tiled)" and the fwd+bwd rows
//    at b4 h32 d128 s 1024/2048 (bench/gpu/run.sh also runs torch_peer_bench.py sdpa for the peer in the same run);
//    compare the summed Mma fwd+bwd rate with SDPA's fwd+bwd.
// 4. Then, by expected gain: occupancy at Dh 128 (the split above, or 8 warps per 128-key tile), cvt.rn.bf16x2 for P
//    and dS, Q/dO fragments held in registers in the dQ pass, and only then cp.async (raw addresses, see above).

using System.Runtime.CompilerServices;
using ILGPU;
using static Engine.Kernels.MmaAttentionKernels;

namespace Engine.Kernels;

/// <summary>Flash-attention-2 backward on tensor cores (<see cref="Mma.MmaBf16"/>, bf16 in, fp32 accumulate), for
/// what <see cref="MmaAttentionKernels.Forward"/> serves (bf16, Dh 64 or 128, causal, GQA, segments, window). D =
/// rowsum(dO∘O) comes from <see cref="TiledAttentionBackwardKernels.Delta{I}"/>, lse from the forward. Deterministic,
/// no atomics: every output element is written once, by one thread.
/// <list type="bullet">
/// <item><see cref="KeyValueGrad"/>: a group of 4 warps owns 64 keys of one (batch, kv head), each warp 16, and walks
/// the query tiles of every query head sharing that kv head. Per 16-query chunk a warp computes Sᵀ = K·Qᵀ and
/// dPᵀ = V·dOᵀ (keys are the mma rows), Pᵀ = exp(scale·Sᵀ − lse) and dSᵀ = Pᵀ∘(dPᵀ − D) on the accumulators, packs them
/// to bf16 as A fragments (C layout = A layout, as the forward's P) and adds dV += Pᵀ·dO, dK += dSᵀ·Q in registers.</item>
/// <item><see cref="QueryGrad"/>: a group owns 64 query rows, each warp 16, walks their key tiles as the forward does,
/// recomputes S = Q·Kᵀ, dP = dO·Vᵀ, P and dS the same way and adds dQ += dS·K.</item>
/// </list>
/// The scale of dS is applied once, when dK and dQ are stored. Shared memory: four [64, Dh] bf16 tiles with the
/// forward's padded stride, then (dK/dV pass) lse, D, first and last visible key of the current 64 query rows;
/// fragments are read with <see cref="Ldmatrix"/>, which needs all of it dynamic.</summary>
internal static class MmaAttentionBackwardKernels
{
    /// <summary>Dynamic shared memory in 32-bit words, for either kernel: four tiles and 4 × 64 row statistics.</summary>
    public static int SharedWords(int headDim) => 4 * Rows * Stride(headDim) + 4 * Rows;

    /// <summary>dk, dv for 64 keys per group. Launch with <see cref="MmaAttentionKernels.Threads"/> threads per group and
    /// <see cref="SharedWords"/>(Dh) words of dynamic shared memory; Dh = 64·G exactly; bf16 q, k, v, dO.</summary>
    [GpuKernel]
    public static void KeyValueGrad<O, D>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                          ArrayView<float> lse, ArrayView<float> delta,
                                          ArrayView<byte> dk, ArrayView<byte> dv, ArrayView<int> starts, AttentionShape s)
        where O : struct, IElement where D : struct, IHeadDimTile
    {
        int groups = default(D).ColumnGroups, chunks = 4 * groups;
        int dh = s.HeadDim, w = Stride(dh), words = dh >> 1, tileWords = Rows * w;
        var smem = SharedMemory.GetDynamic<uint>();
        var ks = smem.SubView(0, tileWords);
        var vs = smem.SubView(tileWords, tileWords);
        var qs = smem.SubView(2 * tileWords, tileWords);
        var gs = smem.SubView(3 * tileWords, tileWords);
        var stats = smem.SubView(4 * tileWords, 4 * Rows);
        var lses = stats.SubView(0, Rows).Cast<float>();
        var deltas = stats.SubView(Rows, Rows).Cast<float>();
        var firsts = stats.SubView(2 * Rows, Rows).Cast<int>();
        var lasts = stats.SubView(3 * Rows, Rows).Cast<int>();
        ArrayView<uint> q32 = q.Cast<uint>(), k32 = k.Cast<uint>(), v32 = v.Cast<uint>(), g32 = dO.Cast<uint>();
        int lane = Group.IdxX & 31, warp = Group.IdxX >> 5, g = lane >> 2, t = lane & 3;
        int lm = (lane & 15) * w + (lane >> 4) * 4; // this lane's ldmatrix row address within a 16-row block
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int kTiles = (s.Tk + Keys - 1) / Keys, qTiles = (s.Tq + Rows - 1) / Rows;
        long kvHeads = (long)s.Batch * s.KvHeads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        int kAt = 16 * warp * w + lm, vAt = tileWords + kAt; // the warp's 16 keys as A operands

        for (long tile = Grid.IdxX; tile < kvHeads * kTiles; tile += Grid.DimX)
        {
            // Key tile 0 is seen by every query tile: the heaviest tiles go first.
            int kt = (int)(tile / kvHeads);
            long bk = tile % kvHeads;
            int kh = (int)(bk % s.KvHeads), b = (int)(bk / s.KvHeads);
            int j0 = kt * Keys, keys = Math.Min(Keys, s.Tk - j0);
            long kvOrigin = (((long)b * s.Tk + j0) * s.KvHeads + kh) * dh;
            Group.Barrier(); // the previous tile's readers of K and V are done
            Copy(k32, v32, kvOrigin >> 1, kvRowStride >> 1, keys, words, ks, vs, w);
            MmaOutTile dk0 = default, dk1 = default, dv0 = default, dv1 = default;
            int kw = j0 + 16 * warp, key0 = kw + g, key1 = key0 + 8; // the warp's first key; this lane's rows
            // Query t sees key j when j ≤ t + offset: the first query tile holding a row that sees key j0.
            int firstQt = Math.Max(0, j0 - offset) / Rows;

            for (int h = kh * group; h < (kh + 1) * group; h++)
            {
                long bh = (long)b * s.Heads + h;
                for (int qt = firstQt; qt < qTiles; qt++)
                {
                    int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
                    // First keys never decrease down the rows: once a tile's first row starts past these keys, so
                    // do all later tiles. The same for every thread.
                    if (AttentionKernels.FirstKey(starts, s, b, t0) >= j0 + keys) break;
                    long qOrigin = (((long)b * s.Tq + t0) * s.Heads + h) * dh;
                    Group.Barrier(); // the previous query tile's readers are done
                    Copy(q32, g32, qOrigin >> 1, rowStride >> 1, rows, words, qs, gs, w);
                    LoadStats(lses, deltas, firsts, lasts, lse, delta, starts, s, b, bh * s.Tq + t0, t0, rows);
                    Group.Barrier();

                    for (int c = 0; c < rows; c += 16)
                    {
                        // Warp-uniform: no row of these 16 queries sees any of the warp's keys.
                        if (kw >= s.Tk || t0 + c + 15 + offset < kw || firsts[c] > kw + 15) continue;

                        // Sᵀ and dPᵀ for 16 keys × 16 queries: n-tile 0 holds queries c..c+7, n-tile 1 c+8..c+15.
                        Acc4 s0 = default, s1 = default, p0 = default, p1 = default;
                        int qAt = 2 * tileWords + c * w + lm, gAt = 3 * tileWords + c * w + lm;
                        Scores(ref s0, ref s1, smem, kAt, qAt, chunks);
                        Scores(ref p0, ref p1, smem, vAt, gAt, chunks);

                        // This lane's queries i, i+1 (n-tile 0) and i+8, i+9 (n-tile 1); keys key0 in C0/C1, key1 in C2/C3.
                        int i = c + 2 * t;
                        Column(ref s0.C0, ref p0.C0, ref s0.C2, ref p0.C2, key0, key1, s.Scale, lses, deltas, firsts, lasts, i);
                        Column(ref s0.C1, ref p0.C1, ref s0.C3, ref p0.C3, key0, key1, s.Scale, lses, deltas, firsts, lasts, i + 1);
                        Column(ref s1.C0, ref p1.C0, ref s1.C2, ref p1.C2, key0, key1, s.Scale, lses, deltas, firsts, lasts, i + 8);
                        Column(ref s1.C1, ref p1.C1, ref s1.C3, ref p1.C3, key0, key1, s.Scale, lses, deltas, firsts, lasts, i + 9);

                        // Pᵀ and dSᵀ as A fragments (keys × queries), then dV += Pᵀ·dO and dK += dSᵀ·Q over Dh.
                        uint pa0 = Mma.PackBf16(s0.C0, s0.C1), pa1 = Mma.PackBf16(s0.C2, s0.C3);
                        uint pa2 = Mma.PackBf16(s1.C0, s1.C1), pa3 = Mma.PackBf16(s1.C2, s1.C3);
                        uint da0 = Mma.PackBf16(p0.C0, p0.C1), da1 = Mma.PackBf16(p0.C2, p0.C3);
                        uint da2 = Mma.PackBf16(p1.C0, p1.C1), da3 = Mma.PackBf16(p1.C2, p1.C3);
                        dv0.Mix(pa0, pa1, pa2, pa3, smem, gAt);
                        dk0.Mix(da0, da1, da2, da3, smem, qAt);
                        if (groups > 1)
                        {
                            dv1.Mix(pa0, pa1, pa2, pa3, smem, gAt + 32);
                            dk1.Mix(da0, da1, da2, da3, smem, qAt + 32);
                        }
                    }
                }
            }

            long top = (((long)b * s.Tk + key0) * s.KvHeads + kh) * dh + 2 * t, bottom = top + 8 * kvRowStride;
            bool topValid = key0 < s.Tk, bottomValid = key1 < s.Tk;
            dk0.Store<O>(dk, top, topValid, bottom, bottomValid, s.Scale, s.Scale);
            dv0.Store<O>(dv, top, topValid, bottom, bottomValid, 1f, 1f);
            if (groups > 1)
            {
                dk1.Store<O>(dk, top + 64, topValid, bottom + 64, bottomValid, s.Scale, s.Scale);
                dv1.Store<O>(dv, top + 64, topValid, bottom + 64, bottomValid, 1f, 1f);
            }
        }
    }

    /// <summary>dq for 64 query rows per group. Launch as <see cref="KeyValueGrad"/>.</summary>
    [GpuKernel]
    public static void QueryGrad<O, D>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                       ArrayView<float> lse, ArrayView<float> delta, ArrayView<byte> dq, ArrayView<int> starts, AttentionShape s)
        where O : struct, IElement where D : struct, IHeadDimTile
    {
        int groups = default(D).ColumnGroups, chunks = 4 * groups;
        int dh = s.HeadDim, w = Stride(dh), words = dh >> 1, tileWords = Rows * w;
        var smem = SharedMemory.GetDynamic<uint>();
        var qs = smem.SubView(0, tileWords);
        var gs = smem.SubView(tileWords, tileWords);
        var ks = smem.SubView(2 * tileWords, tileWords);
        var vs = smem.SubView(3 * tileWords, tileWords);
        ArrayView<uint> q32 = q.Cast<uint>(), k32 = k.Cast<uint>(), v32 = v.Cast<uint>(), g32 = dO.Cast<uint>();
        int lane = Group.IdxX & 31, warp = Group.IdxX >> 5, g = lane >> 2, t = lane & 3;
        int lm = (lane & 15) * w + (lane >> 4) * 4;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int qTiles = (s.Tq + Rows - 1) / Rows;
        long heads = (long)s.Batch * s.Heads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        int qAt = 16 * warp * w + lm, gAt = tileWords + qAt; // the warp's 16 query rows as A operands

        for (long tile = Grid.IdxX; tile < heads * qTiles; tile += Grid.DimX)
        {
            // The last query tiles see the most keys: hand them out first so the short ones fill the tail.
            int qt = qTiles - 1 - (int)(tile / heads);
            long bh = tile % heads;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads), kh = h / group;
            int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
            long qOrigin = (((long)b * s.Tq + t0) * s.Heads + h) * dh;
            Group.Barrier(); // the previous tile's readers of Q and dO are done
            Copy(q32, g32, qOrigin >> 1, rowStride >> 1, rows, words, qs, gs, w);
            long kvOrigin = ((long)b * s.Tk * s.KvHeads + kh) * dh;
            int lastKey = t0 + rows - 1 + offset;
            int firstTile = AttentionKernels.FirstKey(starts, s, b, t0) / Keys * Keys;
            // This lane's rows r0 (fragment row g) and r1 (g + 8): their statistics and visible keys (none past Tq).
            var mine = new MmaQueryRows(starts, s, b, t0, warp, g);
            int r0 = mine.R0, r1 = mine.R1, first0 = mine.First0, first1 = mine.First1, limit = s.Tk - 1;
            long la = bh * s.Tq;
            float lse0 = r0 < s.Tq ? lse[la + r0] : 0f, lse1 = r1 < s.Tq ? lse[la + r1] : 0f;
            float d0 = r0 < s.Tq ? delta[la + r0] : 0f, d1 = r1 < s.Tq ? delta[la + r1] : 0f;
            int last0 = r0 < s.Tq ? Math.Min(r0 + offset, limit) : -1, last1 = r1 < s.Tq ? Math.Min(r1 + offset, limit) : -1;
            MmaOutTile dq0 = default, dq1 = default;

            for (int j0 = firstTile; j0 <= lastKey; j0 += Keys)
            {
                int keys = Math.Min(Keys, s.Tk - j0);
                Group.Barrier(); // the previous tile's readers of K and V are done
                Copy(k32, v32, (kvOrigin + (long)j0 * kvRowStride) >> 1, kvRowStride >> 1, keys, words, ks, vs, w);
                Group.Barrier();

                for (int c = 0; c < Keys; c += 16)
                {
                    int kc = j0 + c;
                    if (mine.Skips(kc)) continue;

                    // S and dP for 16 rows × 16 keys: n-tile 0 holds keys kc..kc+7, n-tile 1 keys kc+8..kc+15.
                    Acc4 s0 = default, s1 = default, p0 = default, p1 = default;
                    int kAt = 2 * tileWords + c * w + lm;
                    Scores(ref s0, ref s1, smem, qAt, kAt, chunks);
                    Scores(ref p0, ref p1, smem, gAt, kAt + tileWords, chunks);

                    // This lane's keys: col, col+1 (n-tile 0) and col+8, col+9 (n-tile 1); row r0 in C0/C1, r1 in C2/C3.
                    int col = kc + 2 * t;
                    Grad(ref s0.C0, ref p0.C0, s.Scale, col, lse0, d0, first0, last0);
                    Grad(ref s0.C1, ref p0.C1, s.Scale, col + 1, lse0, d0, first0, last0);
                    Grad(ref s1.C0, ref p1.C0, s.Scale, col + 8, lse0, d0, first0, last0);
                    Grad(ref s1.C1, ref p1.C1, s.Scale, col + 9, lse0, d0, first0, last0);
                    Grad(ref s0.C2, ref p0.C2, s.Scale, col, lse1, d1, first1, last1);
                    Grad(ref s0.C3, ref p0.C3, s.Scale, col + 1, lse1, d1, first1, last1);
                    Grad(ref s1.C2, ref p1.C2, s.Scale, col + 8, lse1, d1, first1, last1);
                    Grad(ref s1.C3, ref p1.C3, s.Scale, col + 9, lse1, d1, first1, last1);

                    // dS as A fragments (rows × keys), then dQ += dS·K over Dh.
                    uint da0 = Mma.PackBf16(p0.C0, p0.C1), da1 = Mma.PackBf16(p0.C2, p0.C3);
                    uint da2 = Mma.PackBf16(p1.C0, p1.C1), da3 = Mma.PackBf16(p1.C2, p1.C3);
                    dq0.Mix(da0, da1, da2, da3, smem, kAt);
                    if (groups > 1) dq1.Mix(da0, da1, da2, da3, smem, kAt + 32);
                }
            }

            long oa0 = (((long)b * s.Tq + r0) * s.Heads + h) * dh + 2 * t, oa1 = oa0 + 8 * rowStride;
            dq0.Store<O>(dq, oa0, r0 < s.Tq, oa1, r1 < s.Tq, s.Scale, s.Scale);
            if (groups > 1) dq1.Store<O>(dq, oa0 + 64, r0 < s.Tq, oa1 + 64, r1 < s.Tq, s.Scale, s.Scale);
        }
    }

    /// <summary>lse, D, first and last visible key of query rows t0.. (local index i) into shared memory; rows past
    /// <paramref name="rows"/> see no key (last −1). Two threads per row. No barrier inside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadStats(ArrayView<float> lses, ArrayView<float> deltas, ArrayView<int> firsts, ArrayView<int> lasts,
                                  ArrayView<float> lse, ArrayView<float> delta, ArrayView<int> starts, AttentionShape s, int b,
                                  long first, int t0, int rows)
    {
        int i = Group.IdxX & (Rows - 1);
        bool valid = i < rows;
        if (Group.IdxX < Rows)
        {
            lses[i] = valid ? lse[first + i] : 0f;
            firsts[i] = valid ? AttentionKernels.FirstKey(starts, s, b, t0 + i) : 0;
        }
        else
        {
            deltas[i] = valid ? delta[first + i] : 0f;
            lasts[i] = valid ? Math.Min(t0 + i + s.Tk - s.Tq, s.Tk - 1) : -1;
        }
    }

    /// <summary>Two entries of query column <paramref name="i"/> (keys <paramref name="key0"/> and <paramref name="key1"/>)
    /// of the dK/dV pass's transposed tiles: scores become Pᵀ, dPᵀ becomes dSᵀ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column(ref float score0, ref float dp0, ref float score1, ref float dp1, int key0, int key1, float scale,
                               ArrayView<float> lses, ArrayView<float> deltas, ArrayView<int> firsts, ArrayView<int> lasts, int i)
    {
        float l = lses[i], d = deltas[i];
        int first = firsts[i], last = lasts[i];
        Grad(ref score0, ref dp0, scale, key0, l, d, first, last);
        Grad(ref score1, ref dp1, scale, key1, l, d, first, last);
    }

    /// <summary>One score/dP pair in place: P = exp(scale·score − lse) when the key is in [first, last], else 0; dS
    /// (without the scale, applied at the store) = P·(dP − D).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Grad(ref float score, ref float dp, float scale, int key, float lse, float delta, int first, int last)
    {
        float p = key >= first && key <= last ? MathF.Exp(scale * score - lse) : 0f;
        score = p;
        dp = p * (dp - delta);
    }
}
