using System.Runtime.CompilerServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>Sizes of a causal grouped-query attention call: q [B, Tq, H, Dh], k/v [B, Tk, Hkv, Dh];
/// query t sits at position p = t + (Tk − Tq) and sees keys <see cref="AttentionKernels.FirstKey"/>..p.</summary>
internal struct AttentionShape
{
    public int Batch;
    public int Tq;
    public int Tk;
    public int Heads;
    public int KvHeads;
    public int HeadDim;
    public float Scale;
    /// <summary>Sliding window: keys more than W − 1 positions behind a query are masked; 0 = unlimited.</summary>
    public int Window;
    /// <summary>1 when the kernels' segment-start view [B·Tq] holds where each query's sample starts (packed rows,
    /// non-decreasing within a row); 0 when every row is one sample (the view is then never read).</summary>
    public int Segmented;
}

/// <summary>A correct first version of causal attention: one thread group per query row, keys processed in tiles of
/// the group size with an online softmax in fp32. Every thread scores one key of the tile; threads d &lt; Dh then
/// accumulate output dimension d, so the group size must be at least Dh.
/// Slow by design: K and V are read once per query row (no reuse across rows) and each thread walks a whole row of K.
/// The backend uses <see cref="TiledAttentionKernels"/> unless told otherwise (or Dh &gt; 128); these stay as the
/// cross-check and fallback.</summary>
internal static class AttentionKernels
{
    public const int MaxHeadDim = 256;
    public const int MaxGroupSize = 1024;

    /// <summary>The first key query <paramref name="t"/> (&lt; Tq) of batch row <paramref name="b"/> sees:
    /// max(segment start, t + Tk − Tq − W + 1), each term only when present. Non-decreasing in t.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstKey(ArrayView<int> starts, AttentionShape s, int b, int t)
    {
        int first = s.Segmented != 0 ? starts[(long)b * s.Tq + t] : 0;
        return s.Window > 0 ? Math.Max(first, t + s.Tk - s.Tq - s.Window + 1) : first;
    }

    /// <summary>o = softmax(scale·q·kᵀ, causal)·v; lse (when <paramref name="writeLse"/> ≠ 0) = log Σ exp(scores),
    /// laid out [B, H, Tq].</summary>
    [GpuKernel]
    public static void Forward<I, O>(ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v, ArrayView<byte> o,
                                     ArrayView<float> lse, int writeLse, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var ps = SharedMemory.Allocate<float>(MaxGroupSize);
        var scratch = SharedMemory.Allocate<float>(BlockReduce.ScratchSize);
        int tid = Group.IdxX, size = Group.DimX, dh = s.HeadDim;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        long rows = (long)s.Batch * s.Heads * s.Tq;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            int t = (int)(row % s.Tq);
            long bh = row / s.Tq;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads);
            int kh = h / group, last = t + offset;
            long qBase = (((long)b * s.Tq + t) * s.Heads + h) * dh;
            for (int d = tid; d < dh; d += size) qs[d] = default(I).Load(q, qBase + d);
            Group.Barrier();

            float m = float.NegativeInfinity, l = 0f, acc = 0f;
            for (int j0 = FirstKey(starts, s, b, t); j0 <= last; j0 += size)
            {
                int j = j0 + tid;
                float score = float.NegativeInfinity;
                if (j <= last)
                {
                    long kBase = (((long)b * s.Tk + j) * s.KvHeads + kh) * dh;
                    float dot = 0f;
                    for (int d = 0; d < dh; d++) dot += qs[d] * default(I).Load(k, kBase + d);
                    score = s.Scale * dot;
                }
                float mNew = MathF.Max(m, BlockReduce.Max(score, scratch));
                float p = j <= last ? MathF.Exp(score - mNew) : 0f;
                ps[tid] = p;
                float tileSum = BlockReduce.Sum(p, scratch); // its barriers also publish ps
                float correction = MathF.Exp(m - mNew);
                l = l * correction + tileSum;
                if (tid < dh)
                {
                    int count = Math.Min(size, last - j0 + 1);
                    float a = 0f;
                    for (int jj = 0; jj < count; jj++)
                        a += ps[jj] * default(I).Load(v, (((long)b * s.Tk + j0 + jj) * s.KvHeads + kh) * dh + tid);
                    acc = acc * correction + a;
                }
                m = mNew;
                Group.Barrier();
            }
            if (tid < dh) default(O).Store(o, qBase + tid, acc / l);
            if (writeLse != 0 && tid == 0) lse[((long)b * s.Heads + h) * s.Tq + t] = m + MathF.Log(l);
            Group.Barrier();
        }
    }

    /// <summary>delta[b, h, t] = Σ_d dO·o, the softmax-backward correction; one thread per query row.</summary>
    [GpuKernel]
    public static void Delta<I>(ArrayView<byte> dO, ArrayView<byte> o, ArrayView<float> delta, AttentionShape s)
        where I : struct, IElement
    {
        long rows = (long)s.Batch * s.Heads * s.Tq;
        for (long row = GridLoop.Start; row < rows; row += GridLoop.Stride)
        {
            int t = (int)(row % s.Tq);
            long bh = row / s.Tq;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads);
            long qBase = (((long)b * s.Tq + t) * s.Heads + h) * s.HeadDim;
            float dot = 0f;
            for (int d = 0; d < s.HeadDim; d++) dot += default(I).Load(dO, qBase + d) * default(I).Load(o, qBase + d);
            delta[row] = dot;
        }
    }

    /// <summary>dq[t] = Σ_j ds_j·k_j with p_j = exp(scale·q·k_j − lse), ds_j = p_j·(dO·v_j − delta)·scale.
    /// One group per query row, as <see cref="Forward{I,O}"/>.</summary>
    [GpuKernel]
    public static void BackwardQuery<I, O>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                           ArrayView<float> lse, ArrayView<float> delta, ArrayView<byte> dq, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var gs = SharedMemory.Allocate<float>(MaxHeadDim);
        var ds = SharedMemory.Allocate<float>(MaxGroupSize);
        int tid = Group.IdxX, size = Group.DimX, dh = s.HeadDim;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        long rows = (long)s.Batch * s.Heads * s.Tq;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            int t = (int)(row % s.Tq);
            long bh = row / s.Tq;
            int h = (int)(bh % s.Heads), b = (int)(bh / s.Heads);
            int kh = h / group, last = t + offset;
            long qBase = (((long)b * s.Tq + t) * s.Heads + h) * dh;
            for (int d = tid; d < dh; d += size)
            {
                qs[d] = default(I).Load(q, qBase + d);
                gs[d] = default(I).Load(dO, qBase + d);
            }
            Group.Barrier();
            float lrow = lse[row], drow = delta[row];
            float acc = 0f;
            for (int j0 = FirstKey(starts, s, b, t); j0 <= last; j0 += size)
            {
                int j = j0 + tid;
                float dsj = 0f;
                if (j <= last)
                {
                    long kBase = (((long)b * s.Tk + j) * s.KvHeads + kh) * dh;
                    float qk = 0f, gv = 0f;
                    for (int d = 0; d < dh; d++)
                    {
                        qk += qs[d] * default(I).Load(k, kBase + d);
                        gv += gs[d] * default(I).Load(v, kBase + d);
                    }
                    float p = MathF.Exp(s.Scale * qk - lrow);
                    dsj = p * (gv - drow) * s.Scale;
                }
                ds[tid] = dsj;
                Group.Barrier();
                if (tid < dh)
                {
                    int count = Math.Min(size, last - j0 + 1);
                    for (int jj = 0; jj < count; jj++)
                        acc += ds[jj] * default(I).Load(k, (((long)b * s.Tk + j0 + jj) * s.KvHeads + kh) * dh + tid);
                }
                Group.Barrier();
            }
            if (tid < dh) default(O).Store(dq, qBase + tid, acc);
            Group.Barrier();
        }
    }

    /// <summary>dk[j] = Σ ds·q and dv[j] = Σ p·dO over every query (of every head sharing kv head kh) that sees key j.
    /// One group per key row, so no two groups write the same output and no atomics are needed.</summary>
    [GpuKernel]
    public static void BackwardKeyValue<I, O>(ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                                              ArrayView<float> lse, ArrayView<float> delta,
                                              ArrayView<byte> dk, ArrayView<byte> dv, ArrayView<int> starts, AttentionShape s)
        where I : struct, IElement where O : struct, IElement
    {
        var ks = SharedMemory.Allocate<float>(MaxHeadDim);
        var vs = SharedMemory.Allocate<float>(MaxHeadDim);
        var ps = SharedMemory.Allocate<float>(MaxGroupSize);
        var ds = SharedMemory.Allocate<float>(MaxGroupSize);
        int tid = Group.IdxX, size = Group.DimX, dh = s.HeadDim;
        int group = s.Heads / s.KvHeads, offset = s.Tk - s.Tq;
        long rows = (long)s.Batch * s.KvHeads * s.Tk;
        for (long row = Grid.IdxX; row < rows; row += Grid.DimX)
        {
            int j = (int)(row % s.Tk);
            long bk = row / s.Tk;
            int kh = (int)(bk % s.KvHeads), b = (int)(bk / s.KvHeads);
            long kBase = (((long)b * s.Tk + j) * s.KvHeads + kh) * dh;
            for (int d = tid; d < dh; d += size)
            {
                ks[d] = default(I).Load(k, kBase + d);
                vs[d] = default(I).Load(v, kBase + d);
            }
            Group.Barrier();
            // Queries that may see key j: from the one at its position to the last inside the window (segments are
            // tested per query below).
            int tStart = Math.Max(0, j - offset);
            int tEnd = s.Window > 0 ? Math.Min(s.Tq, j - offset + s.Window) : s.Tq;
            int nt = Math.Max(0, tEnd - tStart);
            int items = group * nt;
            float accK = 0f, accV = 0f;
            for (int i0 = 0; i0 < items; i0 += size)
            {
                int item = i0 + tid;
                float p = 0f, dsi = 0f;
                if (item < items && FirstKey(starts, s, b, tStart + item % nt) <= j)
                {
                    int h = kh * group + item / nt, t = tStart + item % nt;
                    long qBase = (((long)b * s.Tq + t) * s.Heads + h) * dh;
                    float qk = 0f, gv = 0f;
                    for (int d = 0; d < dh; d++)
                    {
                        qk += default(I).Load(q, qBase + d) * ks[d];
                        gv += default(I).Load(dO, qBase + d) * vs[d];
                    }
                    long li = ((long)b * s.Heads + h) * s.Tq + t;
                    p = MathF.Exp(s.Scale * qk - lse[li]);
                    dsi = p * (gv - delta[li]) * s.Scale;
                }
                ps[tid] = p;
                ds[tid] = dsi;
                Group.Barrier();
                if (tid < dh)
                {
                    int count = Math.Min(size, items - i0);
                    for (int ii = 0; ii < count; ii++)
                    {
                        int it = i0 + ii;
                        int h = kh * group + it / nt, t = tStart + it % nt;
                        long qBase = (((long)b * s.Tq + t) * s.Heads + h) * dh + tid;
                        accV += ps[ii] * default(I).Load(dO, qBase);
                        accK += ds[ii] * default(I).Load(q, qBase);
                    }
                }
                Group.Barrier();
            }
            if (tid < dh)
            {
                default(O).Store(dk, kBase + tid, accK);
                default(O).Store(dv, kBase + tid, accV);
            }
            Group.Barrier();
        }
    }
}
