// Prediction for an H200, b4 h32 d128 causal, bf16, forward only, in the flops `engine bench kernels` credits
// (4·b·h·s²·d/2), written before any measurement: s = 1024: 90–180 TFLOP/s; s = 2048–8192: 130–250 TFLOP/s
// (0.3–0.6× SDPA's 415 at that run; the tiled fp32 kernel: 25). Why:
// - Ceiling: mma.sync from ILGPU ran 541 TFLOP/s in a register-only loop at O2 (GPU.md); FA2 in CUDA C on mma.sync
//   reaches ~350–400 on Hopper (no wgmma), so ~0.6–0.7 of that loop is what a good FA2 gets.
// - This first step loses more: (1) K/V tiles go global → registers → shared with plain loads and two barriers per
//   64-key tile, no cp.async and no double buffering, so each warp stalls on every tile load (only the other groups
//   on the SM hide it: 52 KB per 128-thread group at Dh 128 → 4 groups by shared memory, 3–4 by registers at
//   ~128–168 per thread, 12–16 warps per SM); (2) fragments now come through ldmatrix (Ldmatrix.X4 for Q and K,
//   .trans for V: one load per 2 mma; written before any measurement, like the rest); Q is
//   re-read from shared memory per 16-key chunk instead of being held in registers; (3) the online softmax runs per
//   16-key chunk (4× the rescales of a 64-key step) with software bf16 packing (~10 instructions per pair where
//   cvt.rn.bf16x2.f32 is one); (4) ILGPU's 64-bit address arithmetic and the .local round trip of every asm operand,
//   which ptxas removes only at O2. Issue-bound, not tensor-bound: roughly 40–60 non-mma instructions per mma.
// - Causal: ~3% of tiles are diagonal; heaviest-first order keeps the tail short. Short s (1024) has 1/8 the work per
//   head of 8192 and fewer waves, hence the lower range.
// First GPU run must check, in this order:
// 1. Correctness: `engine selftest --device cuda` (bf16 activations) runs the attention cases with the Mma option too
//    (rows tagged [Mma]: o and lse against the CPU backend at Dh 64 and 128, causal with Tk > Tq, GQA, packed
//    segments, windows) and
//    first the bare mma.sync tile against float64 (rows "mma m16n8k16 bf16": small integers exact, normals within
//    17·2⁻²³ of Σ|terms|). The tiny selftest's Dh 8 falls back to tiled: the Dh 128 rows are the ones that count.
// 2. The PTX is built at O2 (IlgpuDevice.Configure) and ptxas -v (or cuFuncGetAttribute LOCAL_SIZE_BYTES) shows no
//    local memory for the S/O accumulators: only the asm operands' frame that O2 folds (tens of bytes), no spills.
//    What the PTX holds today (CPU compile for SM_90): 18 mma.sync at Dh 128 (2 in the k-chunk loop of S, 16 for
//    P·V), 10 at Dh 64; ~680 ld/st.local at Dh 128 before ldmatrix, more with its operands (ILGPU routes every asm
//    operand through .local, 4-byte depots; MmaAttentionPtxTests checks no depot is larger);
//    and Mma's shuffle emulation is still present behind `mov.pred %p, 1; @%p bra` (ILGPU does not fold
//    CudaAsm.IsSupported): ptxas must drop it (no SHFL in the chunk loop's SASS besides the 4 of the row maxima)
//    and keep the 32 (Dh 64) or 64 (Dh 128) O accumulators plus 8 S values in registers (expect ~128–168 registers).
// 3. `engine bench kernels` attention rows at b4 h32 d128 causal, s = 1024, 2048, 4096, 8192, forward, beside SDPA
//    (415 TFLOP/s forward in the last run) from `torch_peer_bench.py sdpa` in the same run; plus d64 and a GQA case.
// 4. Then: Q held in registers, cp.async double buffering (see MmaAttentionBackwardKernels for why not yet), 64-key softmax steps,
//    cvt.rn.bf16x2 for P; re-measure after each.

using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>Flash-attention-2 forward on tensor cores (<see cref="Mma.MmaBf16"/>, bf16 in, fp32 accumulate): a group
/// of 4 warps owns 64 query rows of one (batch, head), each warp 16 of them. Q, K and V tiles (64 rows) are copied to
/// shared memory as bf16 with plain 32-bit loads (no cp.async: see <see cref="MmaAttentionBackwardKernels"/>'s file
/// header) and read back as fragments with <see cref="Ldmatrix"/>; per 16-key chunk a warp
/// computes S = Q·Kᵀ (2 n-tiles × Dh/16 mma), runs the online softmax on S's accumulator registers (row max and sum
/// across the 4 lanes of a fragment group with shuffles), packs P to bf16 in registers (S's C-fragment layout is
/// P's A-fragment layout: the FA2 register reuse) and accumulates O += P·V (Dh/8 mma). Masks as in
/// <see cref="TiledAttentionKernels"/> (causal, segments and window through <see cref="AttentionKernels.FirstKey"/>);
/// key tiles outside the group's rows and 16-key chunks outside a warp's rows are skipped. Semantics are those of
/// <see cref="AttentionKernels.Forward{I,O}"/> for bf16 inputs and Dh 64 or 128; the lse it writes is what
/// <see cref="MmaAttentionBackwardKernels"/> recomputes P from.</summary>
internal static class MmaAttentionKernels
{
    public const int Rows = 64;
    public const int Keys = 64;
    public const int Threads = 128;

    /// <summary>Row stride in 32-bit words of a [64, Dh] bf16 tile in shared memory: Dh/2 + 4, so the 8 rows a fragment
    /// load touches fall on distinct banks.</summary>
    public static int Stride(int headDim) => headDim / 2 + 4;

    /// <summary>Dynamic shared memory in 32-bit words: Q, K and V tiles.</summary>
    public static int SharedWords(int headDim) => 3 * Rows * Stride(headDim);

    /// <summary>o = softmax(scale·q·kᵀ, masked)·v with bf16 q, k, v; lse (when <paramref name="writeLse"/> ≠ 0) laid
    /// out [B, H, Tq]. Launch with <see cref="Threads"/> threads per group and <see cref="SharedWords"/>(Dh) words of
    /// dynamic shared memory; Dh = 64·G exactly.</summary>
    [GpuKernel]
    public static void Forward<O, D>(ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v, ArrayView<byte> o,
                                     ArrayView<float> lse, int writeLse, ArrayView<int> starts, AttentionShape s)
        where O : struct, IElement where D : struct, IHeadDimTile
    {
        int groups = default(D).ColumnGroups, chunks = 4 * groups;
        int dh = s.HeadDim, w = Stride(dh), words = dh >> 1;
        var smem = SharedMemory.GetDynamic<uint>();
        var qs = smem.SubView(0, Rows * w);
        var ks = smem.SubView(Rows * w, Keys * w);
        var vs = smem.SubView((Rows + Keys) * w, Keys * w);
        ArrayView<uint> q32 = q.Cast<uint>(), k32 = k.Cast<uint>(), v32 = v.Cast<uint>();
        int lane = Group.IdxX & 31, warp = Group.IdxX >> 5, g = lane >> 2, t = lane & 3;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        int qTiles = (s.Tq + Rows - 1) / Rows;
        long heads = (long)s.Batch * s.Heads;
        long rowStride = (long)s.Heads * dh, kvRowStride = (long)s.KvHeads * dh;
        int lm = (lane & 15) * w + (lane >> 4) * 4; // this lane's ldmatrix row address within a 16-row block
        int qa = 16 * warp * w + lm;                // the warp's Q rows, k chunk 0

        for (long tile = Grid.IdxX; tile < heads * qTiles; tile += Grid.DimX)
        {
            // The last query tiles see the most keys: hand them out first so the short ones fill the tail.
            int qt = qTiles - 1 - (int)(tile / heads);
            long bh = tile % heads;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads), kh = h / group;
            int t0 = qt * Rows, rows = Math.Min(Rows, s.Tq - t0);
            Group.Barrier(); // the previous tile's readers of Q are done
            Copy(q32, ((((long)b * s.Tq + t0) * s.Heads + h) * dh) >> 1, rowStride >> 1, rows, words, qs, w);
            long kvOrigin = ((long)b * s.Tk * s.KvHeads + kh) * dh;
            int lastKey = t0 + rows - 1 + offset;
            int firstTile = AttentionKernels.FirstKey(starts, s, b, t0) / Keys * Keys;
            // This lane's rows r0 (fragment row g) and r1 (g + 8); rows past the end take the last row's mask (never stored).
            var mine = new MmaQueryRows(starts, s, b, t0, warp, g);
            int r0 = mine.R0, r1 = mine.R1, first0 = mine.First0, first1 = mine.First1, limit = s.Tk - 1;
            int seen0 = Math.Min(r0 + offset, limit), seen1 = Math.Min(r1 + offset, limit);
            float m0 = float.NegativeInfinity, m1 = m0, l0 = 0f, l1 = 0f;
            MmaOutTile o0 = default, o1 = default;

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

                    // S = Q·Kᵀ for 16 rows × 16 keys: n-tile 0 holds keys kc..kc+7, n-tile 1 keys kc+8..kc+15.
                    Acc4 s0 = default, s1 = default;
                    Scores(ref s0, ref s1, smem, qa, (Rows + c) * w + lm, chunks);

                    // This lane's keys: col, col+1 (n-tile 0) and col+8, col+9 (n-tile 1); row r0 in C0/C1, r1 in C2/C3.
                    int col = kc + 2 * t;
                    Online(Score(s0.C0, s.Scale, col, first0, seen0), Score(s0.C1, s.Scale, col + 1, first0, seen0),
                           Score(s1.C0, s.Scale, col + 8, first0, seen0), Score(s1.C1, s.Scale, col + 9, first0, seen0),
                           ref m0, ref l0, out float p00, out float p01, out float p02, out float p03, out float re0);
                    Online(Score(s0.C2, s.Scale, col, first1, seen1), Score(s0.C3, s.Scale, col + 1, first1, seen1),
                           Score(s1.C2, s.Scale, col + 8, first1, seen1), Score(s1.C3, s.Scale, col + 9, first1, seen1),
                           ref m1, ref l1, out float p10, out float p11, out float p12, out float p13, out float re1);
                    o0.ScaleRows(re0, re1);
                    if (groups > 1) o1.ScaleRows(re0, re1);

                    // P as A fragments (rows r0/r1 × keys 2t.. and 2t+8..), then O += P·V over Dh in n-tiles of 8.
                    uint pa0 = Mma.PackBf16(p00, p01), pa1 = Mma.PackBf16(p10, p11);
                    uint pa2 = Mma.PackBf16(p02, p03), pa3 = Mma.PackBf16(p12, p13);
                    int va = (Rows + Keys + c) * w + lm; // V rows c.. (keys), first column
                    o0.Mix(pa0, pa1, pa2, pa3, smem, va);
                    if (groups > 1) o1.Mix(pa0, pa1, pa2, pa3, smem, va + 32);
                }
            }

            l0 = QuadSum(l0);
            l1 = QuadSum(l1);
            float inv0 = 1f / l0, inv1 = 1f / l1;
            long oa0 = (((long)b * s.Tq + r0) * s.Heads + h) * dh + 2 * t, oa1 = oa0 + 8 * rowStride;
            o0.Store<O>(o, oa0, r0 < s.Tq, oa1, r1 < s.Tq, inv0, inv1);
            if (groups > 1) o1.Store<O>(o, oa0 + 64, r0 < s.Tq, oa1 + 64, r1 < s.Tq, inv0, inv1);
            if (writeLse != 0 && t == 0)
            {
                long la = bh * s.Tq;
                if (r0 < s.Tq) lse[la + r0] = m0 + MathF.Log(l0);
                if (r1 < s.Tq) lse[la + r1] = m1 + MathF.Log(l1);
            }
        }
    }

    /// <summary>acc0, acc1 += A·Bᵀ for 16 rows × 16 columns over the head dimension: A and B are row-major bf16 tiles in
    /// shared memory (A's 16 rows, e.g. Q; B's 16 rows, e.g. K: columns 0..7 into <paramref name="acc0"/>, 8..15 into
    /// <paramref name="acc1"/>), <paramref name="a"/> and <paramref name="b"/> this lane's ldmatrix row addresses of
    /// their first column, <paramref name="chunks"/> the head dimension / 16. One ldmatrix per operand per 16 of Dh.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Scores(ref Acc4 acc0, ref Acc4 acc1, ArrayView<uint> shared, int a, int b, int chunks)
    {
        for (int kk = 0; kk < chunks; kk++)
        {
            Ldmatrix.X4(shared, a + 8 * kk, out uint a0, out uint a1, out uint a2, out uint a3);
            // With the A-style addresses, B's matrices are keys 0..7 and 8..15 (r0, r1) at k 0..7, then at k 8..15.
            Ldmatrix.X4(shared, b + 8 * kk, out uint b00, out uint b10, out uint b01, out uint b11);
            acc0.Mma(a0, a1, a2, a3, b00, b01);
            acc1.Mma(a0, a1, a2, a3, b10, b11);
        }
    }

    /// <summary>Copies a [64, Dh] bf16 tile (as 32-bit words) to shared memory: tile row r is source word
    /// <paramref name="origin"/> + r·<paramref name="rowStride"/> onward; rows ≥ <paramref name="valid"/> become zeros
    /// (so padded keys add nothing and padded queries score 0). No barrier inside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy(ArrayView<uint> src, long origin, long rowStride, int valid, int words, ArrayView<uint> dst, int w)
    {
        for (int i = Group.IdxX; i < Rows * words; i += Threads)
        {
            int r = i / words, c = i - r * words;
            dst[r * w + c] = r < valid ? src[origin + r * rowStride + c] : 0u;
        }
    }

    /// <summary>Two tiles at the same rows of two tensors (K and V, or Q and dO), as <see cref="Copy(ArrayView{uint},
    /// long, long, int, int, ArrayView{uint}, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy(ArrayView<uint> a, ArrayView<uint> b, long origin, long rowStride, int valid, int words,
                              ArrayView<uint> toA, ArrayView<uint> toB, int w)
    {
        Copy(a, origin, rowStride, valid, words, toA, w);
        Copy(b, origin, rowStride, valid, words, toB, w);
    }

    /// <summary>The scaled score of key <paramref name="c"/>, or −∞ when the row does not see it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Score(float dot, float scale, int c, int first, int seen) =>
        c >= first && c <= seen ? dot * scale : float.NegativeInfinity;

    /// <summary>One row's online-softmax step over this lane's 4 scores of a 16-key chunk (the row's other 12 are in
    /// the 3 other lanes of the fragment group): new running max across the group, p = exp(x − max), the lane's partial
    /// sum, and the rescale exp(old − new max) of what was accumulated before. A row that has seen no key keeps max −∞
    /// and takes exponents against 0, so every p and the rescale are 0 (as <see cref="TiledAttentionKernels"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Online(float x0, float x1, float x2, float x3, ref float m, ref float l,
                               out float p0, out float p1, out float p2, out float p3, out float rescale)
    {
        float mNew = MathF.Max(m, QuadMax(MathF.Max(MathF.Max(x0, x1), MathF.Max(x2, x3))));
        float mRef = mNew == float.NegativeInfinity ? 0f : mNew;
        rescale = MathF.Exp(m - mRef);
        p0 = MathF.Exp(x0 - mRef);
        p1 = MathF.Exp(x1 - mRef);
        p2 = MathF.Exp(x2 - mRef);
        p3 = MathF.Exp(x3 - mRef);
        l = l * rescale + (p0 + p1 + p2 + p3);
        m = mNew;
    }

    /// <summary>Max over the 4 lanes of a fragment group (lanes 4g..4g+3 share a row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float QuadMax(float v)
    {
        v = MathF.Max(v, Warp.ShuffleXor(v, 1));
        return MathF.Max(v, Warp.ShuffleXor(v, 2));
    }

    /// <summary>Sum over the 4 lanes of a fragment group, in a fixed order (deterministic).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float QuadSum(float v)
    {
        v += Warp.ShuffleXor(v, 1);
        return v + Warp.ShuffleXor(v, 2);
    }
}
