using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public void RmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd)
    {
        int d = x.Shape.Last, n = (int)x.Shape.Rows;
        var (xa, xo) = Raw(x); var (wa, wo) = Raw(w); var (ya, yo) = Raw(y); var (ra, ro) = Raw(rstd);
        if (w.NumElements != d || rstd.NumElements != n) throw new ArgumentException($"rmsnorm: x {x.Shape}, w {w.Shape}, rstd {rstd.Shape}");
        CpuParallel.For(n, d * 4L, (r0, r1) =>
        {
            var ws = new ReadOnlySpan<float>(wa, wo, d);
            for (int r = r0; r < r1; r++)
            {
                var xs = new ReadOnlySpan<float>(xa, xo + r * d, d);
                var ys = new Span<float>(ya, yo + r * d, d);
                float ss = TensorPrimitives.Dot(xs, xs);
                float inv = 1f / MathF.Sqrt(ss / d + eps);
                ra[ro + r] = inv;
                TensorPrimitives.Multiply(xs, inv, ys);
                TensorPrimitives.Multiply(ys, ws, ys);
            }
        });
    }

    public void RmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor? dw)
    {
        int d = x.Shape.Last, n = (int)x.Shape.Rows;
        var (xa, xo) = Raw(x); var (wa, wo) = Raw(w); var (ga, go) = Raw(dy); var (ra, ro) = Raw(rstd); var (da, dxo) = Raw(dx);
        CpuParallel.For(n, d * 8L, (r0, r1) =>
        {
            var ws = new ReadOnlySpan<float>(wa, wo, d);
            var gw = new float[d];
            for (int r = r0; r < r1; r++)
            {
                var xs = new ReadOnlySpan<float>(xa, xo + r * d, d);
                var gs = new ReadOnlySpan<float>(ga, go + r * d, d);
                var dxs = new Span<float>(da, dxo + r * d, d);
                float inv = ra[ro + r];
                TensorPrimitives.Multiply(gs, ws, gw);               // g·w
                float dot = TensorPrimitives.Dot(gw, xs);            // Σ g·w·x
                float c = dot * inv * inv / d;
                // dx = inv·(g·w − x·c)
                TensorPrimitives.MultiplyAdd(xs, -c, gw, dxs);
                TensorPrimitives.Multiply(dxs, inv, dxs);
            }
        });
        if (dw is null) return;
        var dws = dw.F32();
        var acc = new double[d];
        var xsAll = x.F32(); var gsAll = dy.F32(); var rs = rstd.F32();
        for (int r = 0; r < n; r++)
        {
            float inv = rs[r];
            for (int i = 0; i < d; i++) acc[i] += (double)gsAll[r * d + i] * xsAll[r * d + i] * inv;
        }
        for (int i = 0; i < d; i++) dws[i] += (float)acc[i];
    }

    public void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        int n = positions.Shape[0];
        int half = cos.Shape.Last, dh = 2 * half;
        int heads = (int)(x.NumElements / ((long)n * dh));
        if ((long)n * heads * dh != x.NumElements) throw new ArgumentException($"rope: x {x.Shape} is not [{n}, H, {dh}]");
        int maxPos = cos.Shape[0];
        var pos = positions.I32();
        var (xa, xo) = Raw(x); var (ya, yo) = Raw(y); var (ca, co) = Raw(cos); var (sa, so) = Raw(sin);
        var posArr = pos.ToArray();
        float sign = inverse ? -1f : 1f;
        CpuParallel.For(n, heads * dh * 4L, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                int p = posArr[t];
                if ((uint)p >= (uint)maxPos) throw new ArgumentOutOfRangeException(nameof(positions), $"position {p} is beyond the rope table of {maxPos}");
                for (int h = 0; h < heads; h++)
                {
                    int b = (t * heads + h) * dh;
                    for (int i = 0; i < half; i++)
                    {
                        float c = ca[co + p * half + i], s = sign * sa[so + p * half + i];
                        float x1 = xa[xo + b + i], x2 = xa[xo + b + i + half];
                        ya[yo + b + i] = x1 * c - x2 * s;
                        ya[yo + b + i + half] = x2 * c + x1 * s;
                    }
                }
            }
        });
    }

    public void SwiGluForward(Tensor gate, Tensor up, Tensor y)
    {
        SameShape(gate, y, "swiglu"); SameShape(up, y, "swiglu");
        var (ga, go) = Raw(gate); var (ua, uo) = Raw(up); var (ya, yo) = Raw(y);
        int n = (int)y.NumElements;
        CpuParallel.For((n + 4095) / 4096, 4096 * 8, (c0, c1) =>
        {
            for (int i = c0 * 4096; i < Math.Min(n, c1 * 4096); i++)
            {
                float g = ga[go + i];
                ya[yo + i] = g / (1f + MathF.Exp(-g)) * ua[uo + i];
            }
        });
    }

    public void SwiGluBackward(Tensor dy, Tensor gate, Tensor up, Tensor dGate, Tensor dUp)
    {
        var (ga, go) = Raw(gate); var (ua, uo) = Raw(up); var (da, dyo) = Raw(dy);
        var (dga, dgo) = Raw(dGate); var (dua, duo) = Raw(dUp);
        int n = (int)dy.NumElements;
        CpuParallel.For((n + 4095) / 4096, 4096 * 12, (c0, c1) =>
        {
            for (int i = c0 * 4096; i < Math.Min(n, c1 * 4096); i++)
            {
                float g = ga[go + i], s = 1f / (1f + MathF.Exp(-g)), d = da[dyo + i];
                float silu = g * s;
                dua[duo + i] = d * silu;
                dga[dgo + i] = d * ua[uo + i] * (s + silu * (1f - s));
            }
        });
    }
}
