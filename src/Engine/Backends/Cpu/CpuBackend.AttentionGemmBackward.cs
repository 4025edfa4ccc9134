using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Attention backward per (batch, kv head) as SGEMMs over all queries and keys of each query head sharing
    /// it: P = exp(scale·Q·Kᵀ − lse) on the visible keys (0 elsewhere), dP = dO·Vᵀ, dS = scale·P⊙(dP − Σ dO⊙O) on the
    /// visible keys (0 elsewhere), then dQ = dS·K, dK += dSᵀ·Q and dV += Pᵀ·dO. The formula per (query, key) is the
    /// dot path's; only the order of the sums inside each product differs. Masked entries are overwritten with zero in
    /// P and dS, so the last three products add nothing for them unless k, q or dO is not finite (0·∞ is NaN): a kv
    /// head whose q, k, v or dO rows hold an inf or NaN runs the dot path instead, which reads only the pairs a query
    /// sees (v is checked too, as the forward does, though dO·Vᵀ's masked entries are overwritten).</summary>
    private static void AttentionBackwardGemm(Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float scale,
                                              Tensor dq, Tensor dk, Tensor dv, AttnDims d, int[]? firstKeys)
    {
        var (qa, qo) = Raw(q); var (ka, ko) = Raw(k); var (va, vo) = Raw(v); var (oa, oo) = Raw(o);
        var (ga, go) = Raw(dO); var (la, lo) = Raw(lse);
        var (dqa, dqo) = Raw(dq); var (dka, dko) = Raw(dk); var (dva, dvo) = Raw(dv);
        int dh = d.Dh, ldq = d.H * dh, ldk = d.Hkv * dh, n = d.Tq * d.Tk;
        CpuParallel.For(d.B * d.Hkv, (long)d.Group * d.Tq * d.Tk * dh * 8, (w0, w1) =>
        {
            var pool = System.Buffers.ArrayPool<float>.Shared;
            var p = pool.Rent(n);
            var ds = pool.Rent(n);
            try
            {
                for (int w = w0; w < w1; w++)
                {
                    int b = w / d.Hkv, kh = w % d.Hkv;
                    int kBase = ko + (b * d.Tk * d.Hkv + kh) * dh, vBase = vo + (b * d.Tk * d.Hkv + kh) * dh;
                    int dkBase = dko + (b * d.Tk * d.Hkv + kh) * dh, dvBase = dvo + (b * d.Tk * d.Hkv + kh) * dh;
                    if (!ValuesFinite(ka, kBase, ldk, d.Tk, dh) || !ValuesFinite(va, vBase, ldk, d.Tk, dh) || !QueryHeadsFinite(qa, qo, ga, go, d, b, kh))
                    {
                        BackwardKvHeadByDots(qa, qo, ka, ko, va, vo, oa, oo, ga, go, la, lo, dqa, dqo, dka, dko, dva, dvo, scale, d, firstKeys, b, kh);
                        continue;
                    }
                    for (int h = kh * d.Group; h < (kh + 1) * d.Group; h++)
                    {
                        int qBase = b * d.Tq * ldq + h * dh;
                        CpuGemm.Sgemm(false, true, d.Tq, d.Tk, dh, scale, qa, qo + qBase, ldq, ka, kBase, ldk, 0f, p, 0, d.Tk, CpuGemm.DetectedIsa, 1);
                        CpuGemm.Sgemm(false, true, d.Tq, d.Tk, dh, 1f, ga, go + qBase, ldq, va, vBase, ldk, 0f, ds, 0, d.Tk, CpuGemm.DetectedIsa, 1);
                        for (int t = 0; t < d.Tq; t++)
                        {
                            int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
                            int qi = qBase + t * ldq;
                            float delta = TensorPrimitives.Dot(new ReadOnlySpan<float>(ga, go + qi, dh), new ReadOnlySpan<float>(oa, oo + qi, dh));
                            float l = la[lo + (b * d.H + h) * d.Tq + t];
                            var pr = p.AsSpan(t * d.Tk, d.Tk);
                            var dr = ds.AsSpan(t * d.Tk, d.Tk);
                            for (int j = first; j <= last; j++)
                            {
                                float pj = MathF.Exp(pr[j] - l);
                                pr[j] = pj;
                                dr[j] = pj * (dr[j] - delta) * scale;
                            }
                            pr[..first].Clear(); pr[(last + 1)..].Clear();
                            dr[..first].Clear(); dr[(last + 1)..].Clear();
                        }
                        CpuGemm.Sgemm(false, false, d.Tq, dh, d.Tk, 1f, ds, 0, d.Tk, ka, kBase, ldk, 0f, dqa, dqo + qBase, ldq, CpuGemm.DetectedIsa, 1);
                        CpuGemm.Sgemm(true, false, d.Tk, dh, d.Tq, 1f, ds, 0, d.Tk, qa, qo + qBase, ldq, 1f, dka, dkBase, ldk, CpuGemm.DetectedIsa, 1);
                        CpuGemm.Sgemm(true, false, d.Tk, dh, d.Tq, 1f, p, 0, d.Tk, ga, go + qBase, ldq, 1f, dva, dvBase, ldk, CpuGemm.DetectedIsa, 1);
                    }
                }
            }
            finally { pool.Return(p); pool.Return(ds); }
        });
    }

    /// <summary>True when the q and dO rows of every query head sharing kv head <paramref name="kh"/> of row
    /// <paramref name="b"/> are finite.</summary>
    private static bool QueryHeadsFinite(float[] qa, int qo, float[] ga, int go, AttnDims d, int b, int kh)
    {
        int dh = d.Dh, ld = d.H * dh;
        for (int h = kh * d.Group; h < (kh + 1) * d.Group; h++)
        {
            int at = b * d.Tq * ld + h * dh;
            if (!ValuesFinite(qa, qo + at, ld, d.Tq, dh) || !ValuesFinite(ga, go + at, ld, d.Tq, dh)) return false;
        }
        return true;
    }
}
