using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Tensors;

namespace Engine.Tests.Backends;

/// <summary>Decode attention with grouped-query heads (each kv head converted once for its group) gives every head the
/// bits it gets with its kv head repeated per query head (no groups), for fp32 and f16 caches, a window mask and a
/// logsumexp; and both stay within fp32 rounding of a float64 softmax·V.</summary>
public sealed class GroupedDecodeAttentionTests
{
    [Theory]
    [InlineData(1, 1, 40, 8, 2, 64, 0, false)]
    [InlineData(2, 2, 33, 6, 2, 128, 0, true)]
    [InlineData(1, 1, 50, 4, 1, 32, 11, true)]
    public void Groups_give_each_head_its_ungrouped_bits(int b, int tq, int tk, int h, int hkv, int dh, int window, bool half)
    {
        var cpu = CpuBackend.Instance;
        var rng = new Rng((ulong)(tk * 7 + dh + h));
        using var scope = new TensorScope();
        int g = h / hkv;
        var q = Normal(rng, b * tq * h * dh);
        var k = Normal(rng, b * tk * hkv * dh);
        var v = Normal(rng, b * tk * hkv * dh);
        if (half) { Round(k); Round(v); }
        var kRep = Repeat(k, b * tk, hkv, g, dh);
        var vRep = Repeat(v, b * tk, hkv, g, dh);
        var mask = window > 0 ? AttentionMask.ForWindow(window) : null;
        var qt = cpu.FromFloats(q, new Shape(b, tq, h, dh), DType.F32);
        var (oG, lG) = Run(cpu, qt, k, v, new Shape(b, tk, hkv, dh), half, mask, b, tq, h, dh);
        var (oR, lR) = Run(cpu, qt, kRep, vRep, new Shape(b, tk, h, dh), half, mask, b, tq, h, dh);
        Assert.Equal(oR, oG);
        Assert.Equal(lR, lG);

        // float64 reference for the grouped call
        for (int bi = 0; bi < b; bi++)
            for (int t = 0; t < tq; t++)
                for (int hh = 0; hh < h; hh++)
                {
                    int pos = t + tk - tq, firstKey = window > 0 ? Math.Max(0, pos - window + 1) : 0, kh = hh / g;
                    var s = new double[tk];
                    double max = double.NegativeInfinity;
                    for (int j = firstKey; j <= pos; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < dh; i++) dot += (double)q[((bi * tq + t) * h + hh) * dh + i] * k[((bi * tk + j) * hkv + kh) * dh + i];
                        s[j] = dot * 0.125;
                        max = Math.Max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = firstKey; j <= pos; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                    for (int i = 0; i < dh; i++)
                    {
                        double want = 0, mag = 0;
                        for (int j = firstKey; j <= pos; j++)
                        {
                            double x = s[j] / sum * v[((bi * tk + j) * hkv + kh) * dh + i];
                            want += x; mag += Math.Abs(x);
                        }
                        float got = oG[((bi * tq + t) * h + hh) * dh + i];
                        Assert.True(Math.Abs(got - want) <= 1e-5 * (mag + 1), $"o[{bi},{t},{hh},{i}] = {got}, float64 {want}");
                    }
                }
    }

    private static (float[] O, float[] Lse) Run(CpuBackend cpu, Tensor q, float[] k, float[] v, Shape kvShape, bool half, AttentionMask? mask, int b, int tq, int h, int dh)
    {
        var dtype = half ? DType.F16 : DType.F32;
        var o = cpu.Empty(new Shape(b, tq, h, dh), DType.F32);
        var l = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(q, cpu.FromFloats(k, kvShape, dtype), cpu.FromFloats(v, kvShape, dtype), 0.125f, o, l, mask);
        return (o.F32().ToArray(), l.F32().ToArray());
    }

    private static float[] Repeat(float[] x, int rows, int hkv, int g, int dh)
    {
        var y = new float[rows * hkv * g * dh];
        for (int r = 0; r < rows; r++)
            for (int kh = 0; kh < hkv; kh++)
                for (int j = 0; j < g; j++)
                    Array.Copy(x, (r * hkv + kh) * dh, y, ((r * hkv + kh) * g + j) * dh, dh);
        return y;
    }

    private static void Round(float[] x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = (float)(Half)x[i];
    }

    private static float[] Normal(Rng rng, long n)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, 1.0);
        return v;
    }
}
