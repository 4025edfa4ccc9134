using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void RmsNorm(SelfTestHarness h)
    {
        var d = D(h);
        var xs = new Shape(d.Rows, d.Dim);
        var x = h.Random(xs, h.Act);
        foreach (var wt in new[] { DType.F32, h.Act }.Distinct())
        {
            var w = h.Random(new Shape(d.Dim), wt, std: 0.2, mean: 1.0);
            var y = h.Output(xs, h.Act);
            var rstd = h.Output(new Shape(d.Rows), DType.F32);
            h.C.RmsNormForward(x.C, w.C, 1e-5f, y.C, rstd.C);
            h.R.RmsNormForward(x.R, w.R, 1e-5f, y.R, rstd.R);
            h.Check("rmsnorm", y, $"x {h.Act.Name()}, w {wt.Name()}");
            h.Check("rmsnorm rstd", rstd);
        }
        var w32 = h.Random(new Shape(d.Dim), DType.F32, std: 0.2, mean: 1.0);
        var rs = h.Output(new Shape(d.Rows), DType.F32);
        var yy = h.Output(xs, DType.F32);
        h.R.RmsNormForward(x.R, w32.R, 1e-5f, yy.R, rs.R);
        var rsC = h.C.FromFloats(SelfTestHarness.Read(h.R, rs.R), rs.R.Shape, DType.F32);
        var dy = h.Random(xs, h.Act);
        var dx = h.Output(xs, h.Act);
        var dw = h.Random(new Shape(d.Dim), DType.F32);
        h.C.RmsNormBackward(dy.C, x.C, w32.C, rsC, dx.C, dw.C);
        h.R.RmsNormBackward(dy.R, x.R, w32.R, rs.R, dx.R, dw.R);
        h.Check("rmsnorm backward dx", dx);
        h.Check("rmsnorm backward dw (accumulate)", dw);
    }
}
