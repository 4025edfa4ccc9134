using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void CrossEntropy(SelfTestHarness h)
    {
        var d = D(h);
        int n = d.CeRows, v = d.CeVocab;
        const int ignore = -100;
        var targets = Enumerable.Range(0, n).Select(i => i == 1 ? ignore : h.Rng.NextInt(v)).ToArray();
        var t = h.Ints(targets, new Shape(n));
        var logits = h.Random(new Shape(n, v), h.Act, std: 2);
        var loss = h.Output(new Shape(1), DType.F32);
        var lse = h.Output(new Shape(n), DType.F32);
        h.C.CrossEntropyForward(logits.C, t.C, ignore, loss.C, lse.C);
        h.R.CrossEntropyForward(logits.R, t.R, ignore, loss.R, lse.R);
        h.Check("cross_entropy loss (sum)", loss);
        h.Check("cross_entropy lse", lse);

        var lseRef = h.Values(SelfTestHarness.Read(h.R, lse.R), lse.R.Shape, DType.F32);
        var gs = h.Values(new[] { 1f / (n - 1) }, new Shape(1), DType.F32);
        var dl = h.Output(new Shape(n, v), h.Act);
        h.C.CrossEntropyBackward(logits.C, t.C, ignore, lseRef.C, gs.C, dl.C);
        h.R.CrossEntropyBackward(logits.R, t.R, ignore, lseRef.R, gs.R, dl.R);
        h.Check("cross_entropy backward", dl);
    }
}
