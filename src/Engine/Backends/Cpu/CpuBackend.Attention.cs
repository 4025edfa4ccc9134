using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Sizes of an attention call, checked once for both directions.</summary>
    private readonly record struct AttnDims(int B, int Tq, int Tk, int H, int Hkv, int Dh)
    {
        public int Group => H / Hkv;
        public int Offset => Tk - Tq;

        public static AttnDims Of(Tensor q, Tensor k, Tensor v)
        {
            if (q.Shape.Rank != 4 || k.Shape.Rank != 4 || v.Shape.Rank != 4)
                throw new ArgumentException($"attention wants [B, T, heads, Dh] tensors, got q {q.Shape}, k {k.Shape}, v {v.Shape}");
            var d = new AttnDims(q.Shape[0], q.Shape[1], k.Shape[1], q.Shape[2], k.Shape[2], q.Shape[3]);
            // u8 keys and values are a q8_0 cache's blocks: Dh/32 blocks of 34 bytes per head row.
            int row = k.DType == DType.U8 && d.Dh % GgmlTypes.QK == 0 ? d.Dh / GgmlTypes.QK * Q8Activations.Q8_0BlockBytes : d.Dh;
            if (k.Shape != v.Shape || k.Shape[0] != d.B || k.Shape[3] != row || d.H % d.Hkv != 0 || d.Tk < d.Tq)
                throw new ArgumentException($"attention shapes do not agree: q {q.Shape}, k {k.Shape}, v {v.Shape}");
            return d;
        }
    }

    /// <summary>Per query (b, t): the first key it sees under <paramref name="mask"/> (the last is t + offset).</summary>
    private static int[]? FirstKeys(AttentionMask? mask, AttnDims d)
    {
        if (mask is null || mask.IsCausal) return null;
        mask.CheckShape(d.B, d.Tq, d.Tk);
        var first = new int[d.B * d.Tq];
        if (mask.SegmentStarts is not null)
        {
            var starts = mask.SegmentStarts.I32();
            AttentionMask.CheckStarts(starts, d.Tq);
            starts.CopyTo(first);
        }
        for (int i = 0; i < first.Length; i++) first[i] = AttentionMask.FirstKey(i % d.Tq, first[i], d.Offset, mask.Window);
        return first;
    }

    public void AttentionForward(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttentionMask? mask = null)
    {
        var d = AttnDims.Of(q, k, v);
        var firstKeys = FirstKeys(mask, d);
        if (!UseGemmAttention(d) && UseFusedDecodeAttention(d) && k.DType == v.DType)
        {
            AttentionForwardFused(q, k, v, scale, o, lse, d, firstKeys);
            return;
        }
        if (k.DType == DType.F16 || v.DType == DType.F16)
        {
            AttentionForwardHalfKv(q, k, v, scale, o, lse, d, firstKeys);
            return;
        }
        if (k.DType == DType.U8 || v.DType == DType.U8)
        {
            AttentionForwardQ8_0Kv(q, k, v, scale, o, lse, d, firstKeys);
            return;
        }
        if (UseGemmAttention(d))
        {
            AttentionForwardGemm(q, k, v, scale, o, lse, d, firstKeys);
            return;
        }
        var (qa, qo) = Raw(q); var (ka, ko) = Raw(k); var (va, vo) = Raw(v); var (oa, oo) = Raw(o);
        float[]? la = null; int lo = 0;
        if (lse is not null) (la, lo) = Raw(lse);
        int dh = d.Dh;
        CpuParallel.For(d.B * d.H, (long)d.Tq * d.Tk * dh * 2, (w0, w1) =>
        {
            var scores = new float[d.Tk];
            for (int w = w0; w < w1; w++)
                AttendHeadByDots(qa, qo, ka, KvBase(ko, d, w / d.H, w % d.H), va, KvBase(vo, d, w / d.H, w % d.H), d.Hkv * d.Dh, oa, oo, la, lo, scale, d, firstKeys, w / d.H, w % d.H, scores);
        });
    }

    /// <summary>Offset of key/value row 0 of head h's kv head in row b of a [B, Tk, Hkv, Dh] tensor at offset o.</summary>
    private static int KvBase(int o, AttnDims d, int b, int h) => o + (b * d.Tk * d.Hkv + h / d.Group) * d.Dh;

    /// <summary>Every query of head h in row b, one dot product per visible (query, key) pair: only the keys and values
    /// a query sees are ever read. Key row j of the head is at kBase + j·ldkv in ka, value row j at vBase + j·ldkv in va.</summary>
    private static void AttendHeadByDots(float[] qa, int qo, float[] ka, int kBase, float[] va, int vBase, int ldkv, float[] oa, int oo, float[]? la, int lo,
                                         float scale, AttnDims d, int[]? firstKeys, int b, int h, float[] scores)
    {
        int dh = d.Dh;
        for (int t = 0; t < d.Tq; t++)
        {
            int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
            var qs = new ReadOnlySpan<float>(qa, qo + ((b * d.Tq + t) * d.H + h) * dh, dh);
            float max = float.NegativeInfinity;
            for (int j = first; j <= last; j++)
            {
                float s = scale * TensorPrimitives.Dot(qs, new ReadOnlySpan<float>(ka, kBase + j * ldkv, dh));
                scores[j] = s;
                if (s > max) max = s;
            }
            double sum = 0;
            for (int j = first; j <= last; j++) { float e = MathF.Exp(scores[j] - max); scores[j] = e; sum += e; }
            float inv = (float)(1.0 / sum);
            var os = new Span<float>(oa, oo + ((b * d.Tq + t) * d.H + h) * dh, dh);
            os.Clear();
            for (int j = first; j <= last; j++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(va, vBase + j * ldkv, dh), scores[j] * inv, os, os);
            if (la is not null) la[lo + (b * d.H + h) * d.Tq + t] = max + (float)Math.Log(sum);
        }
    }

    public void AttentionBackward(Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float scale,
                                  Tensor dq, Tensor dk, Tensor dv, AttentionMask? mask = null)
    {
        var d = AttnDims.Of(q, k, v);
        var firstKeys = FirstKeys(mask, d);
        dq.F32().Clear(); dk.F32().Clear(); dv.F32().Clear();
        if (UseGemmAttention(d))
        {
            AttentionBackwardGemm(dO, q, k, v, o, lse, scale, dq, dk, dv, d, firstKeys);
            return;
        }
        var (qa, qo) = Raw(q); var (ka, ko) = Raw(k); var (va, vo) = Raw(v); var (oa, oo) = Raw(o);
        var (ga, go) = Raw(dO); var (la, lo) = Raw(lse);
        var (dqa, dqo) = Raw(dq); var (dka, dko) = Raw(dk); var (dva, dvo) = Raw(dv);
        // One work item per (batch, kv head): all query heads sharing that kv head write its dk/dv, so no races.
        CpuParallel.For(d.B * d.Hkv, (long)d.Group * d.Tq * d.Tk * d.Dh * 6, (w0, w1) =>
        {
            for (int w = w0; w < w1; w++)
                BackwardKvHeadByDots(qa, qo, ka, ko, va, vo, oa, oo, ga, go, la, lo, dqa, dqo, dka, dko, dva, dvo, scale, d, firstKeys, w / d.Hkv, w % d.Hkv);
        });
    }

    /// <summary>The gradients of every query head sharing kv head <paramref name="kh"/> of row <paramref name="b"/>, one
    /// dot product per visible (query, key) pair: dq of those heads and dk/dv of the kv head accumulate (cleared by the
    /// caller).</summary>
    private static void BackwardKvHeadByDots(float[] qa, int qo, float[] ka, int ko, float[] va, int vo, float[] oa, int oo,
                                             float[] ga, int go, float[] la, int lo, float[] dqa, int dqo, float[] dka, int dko,
                                             float[] dva, int dvo, float scale, AttnDims d, int[]? firstKeys, int b, int kh)
    {
        int dh = d.Dh;
        for (int h = kh * d.Group; h < (kh + 1) * d.Group; h++)
        {
            for (int t = 0; t < d.Tq; t++)
            {
                int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
                int qi = ((b * d.Tq + t) * d.H + h) * dh;
                var qs = new ReadOnlySpan<float>(qa, qo + qi, dh);
                var gs = new ReadOnlySpan<float>(ga, go + qi, dh);
                float delta = TensorPrimitives.Dot(gs, new ReadOnlySpan<float>(oa, oo + qi, dh));
                float l = la[lo + (b * d.H + h) * d.Tq + t];
                var dqs = new Span<float>(dqa, dqo + qi, dh);
                for (int j = first; j <= last; j++)
                {
                    int ki = ((b * d.Tk + j) * d.Hkv + kh) * dh;
                    var ks = new ReadOnlySpan<float>(ka, ko + ki, dh);
                    float p = MathF.Exp(scale * TensorPrimitives.Dot(qs, ks) - l);
                    float dp = TensorPrimitives.Dot(gs, new ReadOnlySpan<float>(va, vo + ki, dh));
                    float dsj = p * (dp - delta) * scale;
                    TensorPrimitives.MultiplyAdd(ks, dsj, dqs, dqs);
                    var dks = new Span<float>(dka, dko + ki, dh);
                    TensorPrimitives.MultiplyAdd(qs, dsj, dks, dks);
                    var dvs = new Span<float>(dva, dvo + ki, dh);
                    TensorPrimitives.MultiplyAdd(gs, p, dvs, dvs);
                }
            }
        }
    }
}
