using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void AdamW(SelfTestHarness h)
    {
        int n = D(h).AdamN;
        var sizes = new[] { n, n / 3 + 1 };
        var pc = new List<AdamWSlot>();
        var pr = new List<AdamWSlot>();
        var kept = new List<(TensorPair P, TensorPair M, TensorPair V)>();
        for (int i = 0; i < sizes.Length; i++)
        {
            var s = new Shape(sizes[i]);
            var p = h.Random(s, DType.F32);
            var g = h.Random(s, DType.F32, std: 0.1);
            var m = h.Random(s, DType.F32, std: 0.01);
            var v = h.Uniform(s, DType.F32, 1e-6, 1e-3);
            float wd = i == 0 ? 0.1f : 0f;
            pc.Add(new AdamWSlot(p.C, g.C, m.C, v.C, wd));
            pr.Add(new AdamWSlot(p.R, g.R, m.R, v.R, wd));
            kept.Add((p, m, v));
        }
        var hyper = new AdamWHyper(1e-3f, 0.9f, 0.999f, 1e-8f, 3, 0.8f);
        h.C.AdamW(pc, hyper);
        h.R.AdamW(pr, hyper);
        foreach (var (p, m, v) in kept)
        {
            h.Check("adamw param", p);
            h.Check("adamw m", m);
            h.Check("adamw v", v);
        }
    }
}
