using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        SameShape(a, y, "add"); SameShape(b, y, "add");
        TensorPrimitives.Add(a.F32(), b.F32(), y.F32());
    }

    public void Mul(Tensor a, Tensor b, Tensor y)
    {
        SameShape(a, y, "mul"); SameShape(b, y, "mul");
        TensorPrimitives.Multiply(a.F32(), b.F32(), y.F32());
    }

    public void Scale(Tensor x, float alpha, Tensor y)
    {
        SameShape(x, y, "scale");
        TensorPrimitives.Multiply(x.F32(), alpha, y.F32());
    }

    public void Axpy(float alpha, Tensor x, Tensor y)
    {
        SameShape(x, y, "axpy");
        TensorPrimitives.MultiplyAdd(x.F32(), alpha, y.F32(), y.F32());
    }

    public void Dropout(Tensor x, float p, ulong seed, Tensor y, bool accumulate = false)
    {
        SameShape(x, y, "dropout");
        var xs = x.F32();
        var ys = y.F32();
        float keep = 1f / (1f - p);
        if (accumulate)
        {
            for (int i = 0; i < xs.Length; i++)
                if (Rng.HashUniform(seed, i) >= p) ys[i] += xs[i] * keep;
            return;
        }
        for (int i = 0; i < xs.Length; i++)
            ys[i] = Rng.HashUniform(seed, i) < p ? 0f : xs[i] * keep;
    }

    public void BroadcastScalar(Tensor s, float alpha, Tensor y) => y.F32().Fill(alpha * s.F32()[0]);

    public void Sum(Tensor x, Tensor y)
    {
        var xs = x.F32();
        double acc = 0;
        foreach (var v in xs) acc += v;
        y.F32()[0] = (float)acc;
    }

    public double SumSquares(Tensor x)
    {
        var xs = x.F32();
        double acc = 0;
        const int chunk = 4096;
        for (int i = 0; i < xs.Length; i += chunk)
        {
            var part = xs.Slice(i, Math.Min(chunk, xs.Length - i));
            acc += TensorPrimitives.Dot(part, part);
        }
        return acc;
    }

    public void SumInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot)
    {
        SplitDouble.Check(acc, slot, "sum into");
        double total = 0;
        foreach (var x in xs)
            foreach (var v in x.F32()) total += v;
        SplitDouble.Add(acc.F32(), slot, total);
    }

    /// <summary>Each tensor's <see cref="SumSquares"/>, added in double in list order (what the trainer summed on the
    /// host before the totals moved onto the device).</summary>
    public void SumSquaresInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot)
    {
        SplitDouble.Check(acc, slot, "sum of squares into");
        double total = 0;
        foreach (var x in xs) total += SumSquares(x);
        SplitDouble.Add(acc.F32(), slot, total);
    }
}
