using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public void CrossEntropyForward(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse)
    {
        int v = logits.Shape.Last, n = (int)logits.Shape.Rows;
        var (xa, xo) = Raw(logits);
        var (la, lo) = Raw(lse);
        var tg = targets.I32().ToArray();
        if (tg.Length != n) throw new ArgumentException($"cross-entropy: {n} rows of logits but {tg.Length} targets");
        var partial = new double[n];
        CpuParallel.For(n, v * 4L, (r0, r1) =>
        {
            var scratch = new float[v];
            for (int r = r0; r < r1; r++)
            {
                var row = new ReadOnlySpan<float>(xa, xo + r * v, v);
                float max = TensorPrimitives.Max(row);
                // exp(x − max) ≤ 1 in fp32 (vectorised); the sum of V such terms keeps ~1e-7 relative accuracy.
                TensorPrimitives.Subtract(row, max, scratch);
                TensorPrimitives.Exp(scratch, scratch);
                double sum = TensorPrimitives.Sum(scratch);
                double l = max + Math.Log(sum);
                la[lo + r] = (float)l;
                int t = tg[r];
                if (t == ignoreIndex) continue;
                if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(targets), $"target {t} is outside the vocabulary of {v}");
                partial[r] = l - row[t];
            }
        });
        double total = 0;
        foreach (var p in partial) total += p;
        loss.F32()[0] = (float)total;
    }

    public void CrossEntropyBackward(Tensor logits, Tensor targets, int ignoreIndex, Tensor lse, Tensor gradScale, Tensor dLogits)
    {
        int v = logits.Shape.Last, n = (int)logits.Shape.Rows;
        var (xa, xo) = Raw(logits); var (la, lo) = Raw(lse); var (da, dof) = Raw(dLogits);
        var tg = targets.I32().ToArray();
        float g = gradScale.F32()[0];
        CpuParallel.For(n, v * 4L, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var drow = new Span<float>(da, dof + r * v, v);
                int t = tg[r];
                if (t == ignoreIndex) { drow.Clear(); continue; }
                float l = la[lo + r];
                var row = new ReadOnlySpan<float>(xa, xo + r * v, v);
                TensorPrimitives.Subtract(row, l, drow);
                TensorPrimitives.Exp(drow, drow);
                drow[t] -= 1f;
                TensorPrimitives.Multiply(drow, g, drow);
            }
        });
    }
}
