using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    private static void Embedding(SelfTestHarness h)
    {
        var d = D(h);
        int v = d.Vocab, dim = d.EmbDim, n = d.Tokens;
        var ids = Enumerable.Range(0, n).Select(i => h.Rng.NextInt(Math.Max(1, v / 3))).ToArray(); // repeats on purpose
        var tid = h.Ints(ids, new Shape(n));
        foreach (var wt in new[] { DType.F32, h.Act }.Distinct())
        {
            var w = h.Random(new Shape(v, dim), wt);
            var y = h.Output(new Shape(n, dim), h.Act);
            h.C.EmbeddingForward(w.C, tid.C, y.C);
            h.R.EmbeddingForward(w.R, tid.R, y.R);
            h.Check("embedding", y, $"w {wt.Name()}→{h.Act.Name()}");
        }
        var dy = h.Random(new Shape(n, dim), h.Act);
        var dw = h.Random(new Shape(v, dim), DType.F32);
        h.C.EmbeddingBackward(dy.C, tid.C, dw.C);
        h.R.EmbeddingBackward(dy.R, tid.R, dw.R);
        h.Check("embedding backward (accumulate)", dw, $"{h.Act.Name()}→f32");
    }
}
