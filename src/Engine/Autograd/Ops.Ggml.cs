using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>x·Wᵀ for a frozen ggml block weight W [out, in] (a GGUF tensor kept packed): [.., in] → [.., out].
    /// Backward gives x its gradient g·W (W dequantized tile by tile again, nothing of it saved); W never gets one, so
    /// LoRA trains on a quantized GGUF base as it does on NF4.</summary>
    public static Tensor GgmlLinear(Tensor x, GgmlWeight weight)
    {
        var be = Be(x);
        if (x.Shape.Last != weight.Cols)
            throw new ArgumentException($"ggml linear: input {x.Shape} does not end in {weight.Name}'s {weight.Cols} input features");
        var y = be.Empty(x.Shape.WithLast(weight.Rows), be.ActivationType);
        be.GgmlMatMul(x, weight, transW: true, y);
        return Record("ggml_linear", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, be.ActivationType);
            be.GgmlMatMul(g, weight, transW: false, gx);
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Rows of a frozen ggml block embedding [V, D] for token ids [..]: [.., D], no gradient anywhere.</summary>
    public static Tensor GgmlEmbedding(GgmlWeight weight, Tensor ids)
    {
        var be = Be(ids);
        var dims = ids.Shape.ToArray().Append(weight.Cols).ToArray();
        var y = be.Empty(new Shape(dims), be.ActivationType);
        be.GgmlEmbedding(weight, ids, y);
        return y;
    }
}
