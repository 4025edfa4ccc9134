using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void Sum(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var x = h.Random(s, h.Act, mean: 0.5);
        var y = h.Output(new Shape(1), DType.F32);
        h.C.Sum(x.C, y.C);
        h.R.Sum(x.R, y.R);
        h.Check("sum", y, $"{h.Act.Name()}→f32");
        h.CheckScalar("sum_squares", h.C.SumSquares(x.C), h.R.SumSquares(x.R), s.ToString(), h.Act.Name(), SelfTestHarness.F32Tolerance);
    }
}
