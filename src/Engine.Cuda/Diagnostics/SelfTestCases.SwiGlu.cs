using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void SwiGlu(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var g = h.Random(s, h.Act, std: 2);
        var u = h.Random(s, h.Act);
        var y = h.Output(s, h.Act);
        h.C.SwiGluForward(g.C, u.C, y.C);
        h.R.SwiGluForward(g.R, u.R, y.R);
        h.Check("swiglu", y);
        var dy = h.Random(s, h.Act);
        var dg = h.Output(s, h.Act);
        var du = h.Output(s, h.Act);
        h.C.SwiGluBackward(dy.C, g.C, u.C, dg.C, du.C);
        h.R.SwiGluBackward(dy.R, g.R, u.R, dg.R, du.R);
        h.Check("swiglu backward dgate", dg);
        h.Check("swiglu backward dup", du);
    }
}
