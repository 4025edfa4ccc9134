using Engine.Autograd;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A projection bias added to every row. Composed from existing ops rather than a new kernel: the bias term is
/// the outer product ones[N, 1]·bias[1, out] (a matmul with K = 1), so its gradient is the column sum of the incoming
/// gradient (onesᵀ·g) through MatMul's own backward, on every backend.</summary>
internal static class Bias
{
    /// <summary>y + bias broadcast over the rows of y ([.., out] with bias [out]). A trainable fp32 bias is cast to the
    /// activation dtype as weights are.</summary>
    public static Tensor Add(Tensor y, Tensor bias)
    {
        int outFeatures = y.Shape.Last;
        if (bias.Shape.Rank != 1 || bias.Shape[0] != outFeatures)
            throw new ArgumentException($"a bias of {bias.Shape} does not fit outputs {y.Shape}");
        var be = Backend.Of(y);
        int rows = (int)y.Shape.Rows;
        using var ones = be.Empty(new Shape(rows, 1), y.DType);
        be.Fill(ones, 1f);
        using var column = Ops.Reshape(bias, outFeatures, 1);
        using var term = Ops.LinearInActivationType(ones, column);
        return Ops.Add(y, term); // same elements, y's shape

    }
}
