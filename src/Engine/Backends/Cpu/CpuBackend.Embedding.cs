using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public void EmbeddingForward(Tensor weight, Tensor ids, Tensor y)
    {
        int d = weight.Shape.Last, v = (int)weight.Shape.Rows;
        var w = weight.F32();
        var id = ids.I32();
        var ys = y.F32();
        if (ys.Length != id.Length * d) throw new ArgumentException($"embedding output {y.Shape} should be [{id.Length}, {d}]");
        for (int n = 0; n < id.Length; n++)
        {
            int t = id[n];
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {t} is outside the vocabulary of {v}");
            w.Slice(t * d, d).CopyTo(ys.Slice(n * d, d));
        }
    }

    public void EmbeddingBackward(Tensor dy, Tensor ids, Tensor dWeight)
    {
        int d = dWeight.Shape.Last;
        var dw = dWeight.F32();
        var id = ids.I32();
        var g = dy.F32();
        for (int n = 0; n < id.Length; n++)
            System.Numerics.Tensors.TensorPrimitives.Add(dw.Slice(id[n] * d, d), g.Slice(n * d, d), dw.Slice(id[n] * d, d));
    }
}
