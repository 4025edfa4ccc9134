using Engine.Tensors;

namespace Engine.Backends;

/// <summary>The M, N, K and batch strides of a (batched) matmul, with the shape checks every backend shares.</summary>
internal readonly record struct MatMulGeometry(int Batch, int M, int N, int K, long StrideA, long StrideB, long StrideC)
{
    public static MatMulGeometry Of(Tensor a, bool transA, Tensor b, bool transB, Tensor c)
    {
        if (a.Shape.Rank < 2 || b.Shape.Rank < 2)
            throw new ArgumentException($"matmul needs matrices, got {a.Shape} and {b.Shape}");
        bool batched = b.Shape.Rank >= 3; // a 2-D right operand (a weight) takes the left operand's rows flattened
        var (ba, ra, ca) = Split(a.Shape, batched);
        var (bb, rb, cb) = Split(b.Shape, batched);
        int m = transA ? ca : ra, ka = transA ? ra : ca;
        int kb = transB ? cb : rb, n = transB ? rb : cb;
        if (ka != kb)
            throw new ArgumentException($"matmul inner dimensions differ: {a.Shape}{(transA ? "ᵀ" : "")} · {b.Shape}{(transB ? "ᵀ" : "")}");
        int batch = Math.Max(ba, bb);
        if (ba != bb && ba != 1 && bb != 1)
            throw new ArgumentException($"matmul batch sizes differ: {a.Shape} and {b.Shape}");
        if (c.NumElements != (long)batch * m * n || c.Shape.Last != n)
            throw new ArgumentException($"matmul output {c.Shape} should hold {batch}×{m}×{n}");
        return new MatMulGeometry(batch, m, n, ka,
            ba == 1 ? 0 : (long)ra * ca, bb == 1 ? 0 : (long)rb * cb, (long)m * n);
    }

    private static (int Batch, int Rows, int Cols) Split(Shape s, bool batched)
    {
        int cols = s.Last;
        if (!batched || s.Rank == 2) return (1, (int)(s.NumElements / Math.Max(1, cols)), cols);
        int rows = s[-2];
        return ((int)(s.NumElements / Math.Max(1, (long)rows * cols)), rows, cols);
    }
}
