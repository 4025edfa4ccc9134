using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void Rope(SelfTestHarness h)
    {
        var d = D(h);
        int n = d.Tokens, heads = d.RopeHeads, dh = d.HeadDim, half = dh / 2, maxPos = d.MaxPos;
        var cos = new float[maxPos * half];
        var sin = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++)
            {
                double theta = p * Math.Pow(10000, -2.0 * i / dh);
                cos[p * half + i] = (float)Math.Cos(theta);
                sin[p * half + i] = (float)Math.Sin(theta);
            }
        var tc = h.Values(cos, new Shape(maxPos, half), DType.F32);
        var ts = h.Values(sin, new Shape(maxPos, half), DType.F32);
        var pos = h.Ints(Enumerable.Range(0, n).Select(_ => h.Rng.NextInt(maxPos)).ToArray(), new Shape(n));
        var xs = new Shape(n, heads, dh);
        var x = h.Random(xs, h.Act);
        foreach (var inverse in new[] { false, true })
        {
            var y = h.Output(xs, h.Act);
            h.C.Rope(x.C, pos.C, tc.C, ts.C, y.C, inverse);
            h.R.Rope(x.R, pos.R, tc.R, ts.R, y.R, inverse);
            h.Check(inverse ? "rope inverse" : "rope", y);
        }
    }
}
