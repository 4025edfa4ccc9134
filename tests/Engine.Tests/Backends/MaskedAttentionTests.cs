using Engine.Autograd;
using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends;

/// <summary>The CPU backend's attention under packed-sample and sliding-window masks against a float64 reference written
/// here from the definition: query t of row b (absolute position p = t + Tk − Tq) sees key j iff j ≤ p, j belongs to the
/// same sample (given as a sample id per token, not as segment starts) and p − j &lt; W. Forward (o, lse) and the
/// analytic backward (dQ, dK, dV) in float64; finite differences of the autograd op.</summary>
public sealed class MaskedAttentionTests
{
    public static TheoryData<int, int, int, int, int, int[]?, int> Cases() => new()
    {
        // B, Tq, Tk, H, Hkv, sample lengths per row (null: one sample per row), window
        { 2, 9, 9, 4, 2, new[] { 3, 4, 2, 2, 6, 1 }, 0 },   // packed, GQA, a one-token sample
        { 1, 10, 10, 2, 1, null, 3 },                        // window only
        { 2, 11, 11, 2, 2, new[] { 5, 6, 1, 7, 3 }, 4 },     // packed and windowed: windows cross no sample boundary
        { 1, 3, 12, 2, 1, null, 5 },                         // KV cache: 3 queries after 9 cached keys, window 5
        { 1, 1, 12, 2, 2, null, 4 },                         // one generated token under a window
    };

    /// <summary><see cref="Cases"/> and training-sized rows (at least <see cref="CpuBackend.GemmAttentionMinQueries"/>
    /// queries), which take the SGEMM path in both directions.</summary>
    public static TheoryData<int, int, int, int, int, int[]?, int> CasesWithGemm()
    {
        var all = Cases();
        all.Add(2, 20, 20, 4, 2, new[] { 7, 9, 4, 12, 8 }, 0);   // packed, GQA
        all.Add(1, 24, 24, 3, 1, null, 6);                        // windowed, multi-query
        all.Add(2, 17, 17, 2, 2, null, 0);                        // plain causal
        return all;
    }

    /// <summary>A prompt-sized call (the two-SGEMM path) where one packed sample's value row overflowed to +∞: the
    /// other sample's outputs, and the overflowing sample's queries before that row, stay exactly what they are with a
    /// finite value there (a masked key contributes nothing, not 0·∞ = NaN). The head holding the inf is computed by
    /// the dot path instead, so its finite outputs match the clean run to rounding; the other head's exactly.</summary>
    [Fact]
    public void An_infinite_value_reaches_only_the_queries_that_see_it()
    {
        var cpu = CpuBackend.Instance;
        const int t = 24, h = 2, dh = 4;
        var rng = new Rng(77);
        using var scope = new TensorScope();
        var qs = new Shape(1, t, h, dh);
        float[] q = Normal(rng, qs), k = Normal(rng, qs), v = Normal(rng, qs);
        var mask = new AttentionMask(cpu.FromInts(Starts(SampleIds(1, t, [12, 12])!, t), new Shape(t)), 0);
        float[] Run(float[] values)
        {
            var o = cpu.Empty(qs, DType.F32);
            cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, qs, DType.F32), cpu.FromFloats(values, qs, DType.F32), 0.5f, o, null, mask);
            return o.F32().ToArray();
        }
        var clean = Run(v);
        var bad = (float[])v.Clone();
        bad[(18 * h + 1) * dh + 2] = float.PositiveInfinity; // token 18 (second sample), head 1
        var got = Run(bad);
        Assert.True(t >= CpuBackend.GemmAttentionMinQueries);
        for (int tok = 0; tok < t; tok++)
            for (int i = 0; i < h * dh; i++)
            {
                int at = tok * h * dh + i;
                if (tok >= 18 && i == dh + 2) Assert.False(float.IsFinite(got[at]), $"token {tok} must see the inf");
                else if (i / dh == 1) Assert.Equal(clean[at], got[at], 1e-5f * (1 + Math.Abs(clean[at])));
                else Assert.Equal(clean[at], got[at]);
            }
    }

    /// <summary>The backward of a training-sized call (the SGEMM path) where one packed sample's key row overflowed to
    /// +∞ in kv head 1: kv head 0's gradients are exactly those of the clean run, and the first sample's dq and dk of
    /// head 1 stay finite and within rounding of the clean run. In dQ = dS·K a masked pair's dS is 0 and 0·∞ is NaN, so
    /// the head holding the inf must be (and is) computed by the dot path, which reads only the pairs a query sees.</summary>
    [Fact]
    public void An_infinite_key_in_backward_stays_in_its_sample_and_head()
    {
        var cpu = CpuBackend.Instance;
        const int t = 24, h = 2, dh = 4;
        var rng = new Rng(78);
        using var scope = new TensorScope();
        var qs = new Shape(1, t, h, dh);
        float[] q = Normal(rng, qs), k = Normal(rng, qs), v = Normal(rng, qs), dO = Normal(rng, qs);
        var mask = new AttentionMask(cpu.FromInts(Starts(SampleIds(1, t, [12, 12])!, t), new Shape(t)), 0);
        (float[] Dq, float[] Dk) Run(float[] keys)
        {
            var (qt, kt, vt) = (cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(keys, qs, DType.F32), cpu.FromFloats(v, qs, DType.F32));
            var o = cpu.Empty(qs, DType.F32);
            var lse = cpu.Empty(new Shape(1, h, t), DType.F32);
            cpu.AttentionForward(qt, kt, vt, 0.5f, o, lse, mask);
            var (dq, dk, dv) = (cpu.Empty(qs, DType.F32), cpu.Empty(qs, DType.F32), cpu.Empty(qs, DType.F32));
            cpu.AttentionBackward(cpu.FromFloats(dO, qs, DType.F32), qt, kt, vt, o, lse, 0.5f, dq, dk, dv, mask);
            return (dq.F32().ToArray(), dk.F32().ToArray());
        }
        var clean = Run(k);
        var bad = (float[])k.Clone();
        bad[(18 * h + 1) * dh + 2] = float.PositiveInfinity; // token 18 (second sample), head 1
        var got = Run(bad);
        for (int tok = 0; tok < t; tok++)
            for (int i = 0; i < h * dh; i++)
            {
                int at = tok * h * dh + i;
                if (i / dh == 0)
                {
                    Assert.Equal(clean.Dq[at], got.Dq[at]);
                    Assert.Equal(clean.Dk[at], got.Dk[at]);
                }
                else if (tok < 12)
                {
                    Assert.Equal(clean.Dq[at], got.Dq[at], 1e-5f * (1 + Math.Abs(clean.Dq[at])));
                    Assert.Equal(clean.Dk[at], got.Dk[at], 1e-5f * (1 + Math.Abs(clean.Dk[at])));
                }
            }
    }

    /// <summary>A KV cache held in f16 (generation's cache type for GGUF models) widens keys and values to fp32 and then
    /// computes exactly what the fp32 path computes on the same (f16-rounded) values: o and lse bit for bit, the
    /// training-sized rows (a prompt pass) on the fp32 path's SGEMM branch included.</summary>
    [Theory]
    [MemberData(nameof(CasesWithGemm))]
    public void Half_precision_keys_and_values_give_the_fp32_result_of_their_rounded_values(int b, int tq, int tk, int h, int hkv, int[]? lengths, int window)
    {
        var cpu = CpuBackend.Instance;
        const int dh = 5;
        var rng = new Rng((ulong)(tq * 17 + tk * 3 + window));
        using var scope = new TensorScope();
        var qs = new Shape(b, tq, h, dh);
        var ks = new Shape(b, tk, hkv, dh);
        float[] q = Normal(rng, qs), k = Normal(rng, ks), v = Normal(rng, ks);
        var sample = SampleIds(b, tq, lengths);
        var mask = new AttentionMask(lengths is null ? null : cpu.FromInts(Starts(sample!, tq), new Shape(b * tq)), window);
        var k16 = cpu.FromFloats(k, ks, DType.F16);
        var v16 = cpu.FromFloats(v, ks, DType.F16);
        var kr = new float[k.Length];
        var vr = new float[v.Length];
        cpu.ToFloats(k16, kr);
        cpu.ToFloats(v16, vr);
        Assert.NotEqual(k, kr); // the rounding is real
        var o16 = cpu.Empty(qs, DType.F32);
        var l16 = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), k16, v16, 0.45f, o16, l16, mask);
        var o32 = cpu.Empty(qs, DType.F32);
        var l32 = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(kr, ks, DType.F32), cpu.FromFloats(vr, ks, DType.F32), 0.45f, o32, l32, mask);
        Assert.Equal(o32.F32().ToArray(), o16.F32().ToArray());
        Assert.Equal(l32.F32().ToArray(), l16.F32().ToArray());
    }

    [Theory]
    [MemberData(nameof(CasesWithGemm))]
    public void Cpu_attention_matches_a_float64_reference(int b, int tq, int tk, int h, int hkv, int[]? lengths, int window)
    {
        var cpu = CpuBackend.Instance;
        const int dh = 5;
        var rng = new Rng((ulong)(tq * 31 + tk * 7 + window));
        using var scope = new TensorScope();
        var qs = new Shape(b, tq, h, dh);
        var ks = new Shape(b, tk, hkv, dh);
        float[] q = Normal(rng, qs), k = Normal(rng, ks), v = Normal(rng, ks), dO = Normal(rng, qs);
        var sample = SampleIds(b, tq, lengths);
        var mask = new AttentionMask(lengths is null ? null : cpu.FromInts(Starts(sample!, tq), new Shape(b * tq)), window);
        float scale = 0.45f;

        var o = cpu.Empty(qs, DType.F32);
        var lse = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, ks, DType.F32), cpu.FromFloats(v, ks, DType.F32), scale, o, lse, mask);
        var dq = cpu.Empty(qs, DType.F32);
        var dk = cpu.Empty(ks, DType.F32);
        var dv = cpu.Empty(ks, DType.F32);
        cpu.AttentionBackward(cpu.FromFloats(dO, qs, DType.F32), cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(k, ks, DType.F32),
                              cpu.FromFloats(v, ks, DType.F32), o, lse, scale, dq, dk, dv, mask);

        var r = Reference(b, tq, tk, h, hkv, dh, q, k, v, dO, scale, (bb, t, j) =>
        {
            int p = t + tk - tq;
            return j <= p && (window == 0 || p - j < window) && (sample is null || sample[bb * tq + t] == sample[bb * tq + j]);
        });
        Close("o", r.O, o);
        Close("lse", r.Lse, lse);
        Close("dq", r.Dq, dq);
        Close("dk", r.Dk, dk);
        Close("dv", r.Dv, dv);
    }

    [Fact]
    public void Masked_attention_op_matches_finite_differences()
    {
        var rng = new Rng(11);
        var q = GradCheck.Param(rng, 2, 7, 2, 4);
        var k = GradCheck.Param(rng, 2, 7, 1, 4);
        var v = GradCheck.Param(rng, 2, 7, 1, 4);
        var starts = TensorScope.Unscoped(() => GradCheck.Cpu.FromInts(Starts(SampleIds(2, 7, new[] { 3, 4, 5, 2 })!, 7), new Shape(14)));
        GradCheck.Check(t => Ops.Attention(t[0], t[1], t[2], 0.5f, new AttentionMask(starts, 2)), new[] { q, k, v });
        GradCheck.Check(t => Ops.Attention(t[0], t[1], t[2], 0.5f, new AttentionMask(starts, 0)), new[] { q, k, v });
    }

    [Fact]
    public void Bad_masks_are_refused_by_name()
    {
        var cpu = CpuBackend.Instance;
        using var scope = new TensorScope();
        var x = cpu.Zeros(new Shape(1, 4, 1, 2), DType.F32);
        var o = cpu.Empty(x.Shape, DType.F32);
        var ex = Assert.Throws<ArgumentException>(() => cpu.AttentionForward(x, x, x, 1f, o, null, new AttentionMask(cpu.FromInts(new[] { 0, 0, 3, 1 }, new Shape(4)), 0)));
        Assert.Contains("segment start", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => cpu.AttentionForward(x, x, x, 1f, o, null, new AttentionMask(cpu.FromInts(new[] { 0, 0 }, new Shape(2)), 0)));
        Assert.Contains("segment starts must be I32 [4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => cpu.AttentionForward(x, x, x, 1f, o, null, new AttentionMask(null, -1)));
        Assert.Contains("window", ex.Message);
    }

    /// <summary>Sample id per token of rows of <paramref name="time"/> tokens filled by <paramref name="lengths"/> in turn.</summary>
    internal static int[]? SampleIds(int rows, int time, int[]? lengths)
    {
        if (lengths is null) return null;
        var ids = new int[rows * time];
        int at = 0;
        for (int s = 0; s < lengths.Length; s++)
            for (int i = 0; i < lengths[s]; i++) ids[at++] = s;
        Assert.Equal(ids.Length, at);
        return ids;
    }

    /// <summary>Segment starts from sample ids: the index in the row of the first token of the same sample.</summary>
    internal static int[] Starts(int[] sample, int time)
    {
        var s = new int[sample.Length];
        for (int i = 0; i < s.Length; i++)
        {
            int t = i % time;
            s[i] = t > 0 && sample[i - 1] == sample[i] ? s[i - 1] : t;
        }
        return s;
    }

    internal sealed record Result(double[] O, double[] Lse, double[] Dq, double[] Dk, double[] Dv);

    /// <summary>softmax(scale·q·kᵀ masked)·v in float64 and its gradients for L = Σ dO∘o. With <paramref name="storedO"/>
    /// the backward's D = Σ dO∘o takes o as a backend would store it (e.g. rounded to bf16), so a kernel fed that o is
    /// compared at the point it differentiates; otherwise D = Σ P∘dP exactly.</summary>
    internal static Result Reference(int b, int tq, int tk, int h, int hkv, int dh, float[] q, float[] k, float[] v, float[] dO,
                                     float scale, Func<int, int, int, bool> sees, Func<double, double>? storedO = null)
    {
        var o = new double[q.Length];
        var lse = new double[b * h * tq];
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        int g = h / hkv;
        for (int bb = 0; bb < b; bb++)
            for (int hh = 0; hh < h; hh++)
                for (int t = 0; t < tq; t++)
                {
                    int kh = hh / g;
                    int qi = ((bb * tq + t) * h + hh) * dh;
                    int Ki(int j) => ((bb * tk + j) * hkv + kh) * dh;
                    var s = new double[tk];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < tk; j++)
                    {
                        if (!sees(bb, t, j)) { s[j] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int d = 0; d < dh; d++) dot += (double)q[qi + d] * k[Ki(j) + d];
                        s[j] = scale * dot;
                        max = Math.Max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < tk; j++) sum += Math.Exp(s[j] - max);
                    lse[(bb * h + hh) * tq + t] = max + Math.Log(sum);
                    var p = new double[tk];
                    for (int j = 0; j < tk; j++) p[j] = Math.Exp(s[j] - max) / sum;
                    for (int j = 0; j < tk; j++)
                        for (int d = 0; d < dh; d++) o[qi + d] += p[j] * v[Ki(j) + d];
                    // dP_j = dO·v_j; dS_j = P_j (dP_j − Σ_i P_i dP_i); dq = scale Σ dS_j k_j; dk_j += scale dS_j q; dv_j += P_j dO.
                    var dp = new double[tk];
                    double pdp = 0;
                    for (int j = 0; j < tk; j++)
                    {
                        for (int d = 0; d < dh; d++) dp[j] += (double)dO[qi + d] * v[Ki(j) + d];
                        pdp += p[j] * dp[j];
                    }
                    if (storedO is not null)
                    {
                        pdp = 0;
                        for (int d = 0; d < dh; d++) pdp += dO[qi + d] * storedO(o[qi + d]);
                    }
                    for (int j = 0; j < tk; j++)
                    {
                        double ds = p[j] * (dp[j] - pdp);
                        for (int d = 0; d < dh; d++)
                        {
                            dq[qi + d] += scale * ds * k[Ki(j) + d];
                            dk[Ki(j) + d] += scale * ds * q[qi + d];
                            dv[Ki(j) + d] += p[j] * dO[qi + d];
                        }
                    }
                }
        return new Result(o, lse, dq, dk, dv);
    }

    private static float[] Normal(Rng rng, Shape shape)
    {
        var v = new float[shape.NumElements];
        rng.FillNormal(v, 0, 1.0);
        return v;
    }

    private static void Close(string what, double[] expected, Tensor actual)
    {
        var a = new float[actual.NumElements];
        CpuBackend.Instance.ToFloats(actual, a);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {a[i]} vs float64 {expected[i]}");
    }
}
