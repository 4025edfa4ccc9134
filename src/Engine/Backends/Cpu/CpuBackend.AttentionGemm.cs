using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Calls with at least this many queries (a prompt, a training row) compute each head's scores and output as
    /// SGEMMs instead of one dot product per (query, key) pair, in both directions (the backward in
    /// <c>CpuBackend.AttentionGemmBackward.cs</c>); decoding a few tokens keeps the dot path. Both paths are
    /// deterministic whatever the thread count, so runs and resumes still agree bit for bit; on a diverging run
    /// (lr 1e6) the two paths part ways, the GEMM one reaching NaN first.</summary>
    internal const int GemmAttentionMinQueries = 16;

    /// <summary>Largest Tq·Tk score matrix (per thread, fp32) the GEMM path holds: 16 MiB (twice that in backward).</summary>
    internal const long GemmAttentionMaxScores = 1L << 22;

    /// <summary>True when attention of these sizes takes the GEMM path (forward and backward alike).</summary>
    private static bool UseGemmAttention(AttnDims d) => d.Tq >= GemmAttentionMinQueries && (long)d.Tq * d.Tk <= GemmAttentionMaxScores;

    /// <summary>Attention forward per (batch, head) as S = scale·Q·Kᵀ (one SGEMM over all queries and keys), a masked
    /// softmax per row in place (the dot path's formula: exp(s − max), fp64 sum, 1/sum), then O = P·V (a second
    /// SGEMM). Masked-out scores are zero in P, so the product adds nothing for them, unless a value row is not finite
    /// (0·∞ is NaN): a head whose values hold an inf or NaN anywhere runs the dot path instead, which never reads the
    /// rows a query does not see, so one sample's overflow cannot reach another's output. Same results as the dot path
    /// up to the order of the sums inside each product.</summary>
    private static void AttentionForwardGemm(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys)
    {
        var (qa, qo) = Raw(q); var (ka, ko) = Raw(k); var (va, vo) = Raw(v); var (oa, oo) = Raw(o);
        float[]? la = null; int lo = 0;
        if (lse is not null) (la, lo) = Raw(lse);
        int dh = d.Dh, ldq = d.H * dh, ldk = d.Hkv * dh;
        CpuParallel.For(d.B * d.H, (long)d.Tq * d.Tk * dh * 2, (w0, w1) =>
        {
            var p = System.Buffers.ArrayPool<float>.Shared.Rent(d.Tq * d.Tk); // up to 16 MiB: pooled, not a large object per call
            try
            {
                for (int w = w0; w < w1; w++)
                {
                    int b = w / d.H, h = w % d.H;
                    int qBase = qo + b * d.Tq * ldq + h * dh, kBase = KvBase(ko, d, b, h), vBase = KvBase(vo, d, b, h);
                    if (!ValuesFinite(va, vBase, ldk, d.Tk, dh))
                    {
                        AttendHeadByDots(qa, qo, ka, kBase, va, vBase, ldk, oa, oo, la, lo, scale, d, firstKeys, b, h, p);
                        continue;
                    }
                    CpuGemm.Sgemm(false, true, d.Tq, d.Tk, dh, scale, qa, qBase, ldq, ka, kBase, ldk, 0f, p, 0, d.Tk, CpuGemm.DetectedIsa, 1);
                    for (int t = 0; t < d.Tq; t++)
                    {
                        int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
                        var row = p.AsSpan(t * d.Tk, d.Tk);
                        float max = TensorPrimitives.Max(row[first..(last + 1)]);
                        double sum = 0;
                        for (int j = first; j <= last; j++) { float e = MathF.Exp(row[j] - max); row[j] = e; sum += e; }
                        float inv = (float)(1.0 / sum);
                        row[..first].Clear();
                        TensorPrimitives.Multiply(row[first..(last + 1)], inv, row[first..(last + 1)]);
                        row[(last + 1)..].Clear();
                        if (la is not null) la[lo + (b * d.H + h) * d.Tq + t] = max + (float)Math.Log(sum);
                    }
                    CpuGemm.Sgemm(false, false, d.Tq, dh, d.Tk, 1f, p, 0, d.Tk, va, vBase, ldk, 0f, oa, oo + b * d.Tq * ldq + h * dh, ldq, CpuGemm.DetectedIsa, 1);
                }
            }
            finally { System.Buffers.ArrayPool<float>.Shared.Return(p); }
        });
    }

    /// <summary>True when every value of rows [0, rows) (stride ld, dh each) is finite.</summary>
    private static bool ValuesFinite(float[] a, int offset, int ld, int rows, int dh)
    {
        for (int j = 0; j < rows; j++)
            if (!float.IsFinite(TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(a, offset + j * ld, dh)))) return false;
        return true;
    }
}
