using Engine.Backends;
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

    /// <summary>The training step's device totals over several tensors (more than one pack on the device): sums and
    /// sums of squares added into a slot that already holds a value.</summary>
    private static void SumInto(SelfTestHarness h)
    {
        int n = D(h).Elems;
        var xs = Enumerable.Range(0, 37).Select(i => h.Random(new Shape(i % 5 == 0 ? n : 1 + i * 3), h.Act, mean: 0.5)).ToList();
        var shape = $"37 tensors, {xs.Sum(x => x.R.NumElements)} elements";
        foreach (bool squares in new[] { false, true })
        {
            double Total(IBackend be, IReadOnlyList<Tensor> ts)
            {
                using var acc = TensorScope.Unscoped(() => be.FromFloats(new[] { 0f, 0f, 1.5f, 0f }, new Shape(4), DType.F32));
                if (squares) be.SumSquaresInto(ts, acc, 1);
                else be.SumInto(ts, acc, 1);
                var host = new float[4];
                be.ToFloats(acc, host);
                return SplitDouble.Read(host, 1);
            }
            h.CheckScalar(squares ? "sum_squares_into" : "sum_into", Total(h.C, xs.Select(x => x.C).ToList()),
                          Total(h.R, xs.Select(x => x.R).ToList()), shape, h.Act.Name(), SelfTestHarness.F32Tolerance);
        }
    }
}
