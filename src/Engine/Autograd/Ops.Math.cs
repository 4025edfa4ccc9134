using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>op(A)·op(B), batched when both are 3-D; a 2-D operand is broadcast and leading dimensions of the
    /// left operand are kept ([B, T, K]·[K, N] → [B, T, N]).</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        var be = Backend.Of(a, b);
        var y = be.Empty(MatMulShape(a, transA, b, transB), be.ActivationType);
        be.MatMul(a, transA, b, transB, y);
        return Record("matmul", y, new[] { a, b }, node =>
        {
            // With a 2-D right operand the left one's leading dimensions are rows: backward works on 2-D views.
            bool flat = b.Shape.Rank == 2 && a.Shape.Rank > 2;
            var sa = node.NeedsGrad[1] ? (flat ? node.Save(a, new Shape((int)a.Shape.Rows, a.Shape.Last)) : node.Save(a)) : null;
            var sb = node.NeedsGrad[0] ? node.Save(b) : null;
            return (g0, n) =>
            {
                var g = flat ? g0.Reshape(new Shape((int)g0.Shape.Rows, g0.Shape.Last), track: false) : g0;
                try { return Grads(g, n); }
                finally { if (flat) g.Dispose(); }
            };

            Tensor?[] Grads(Tensor g, Node n)
            {
                Tensor? ga = null, gb = null;
                if (n.NeedsGrad[0])
                {
                    ga = New(be, flat ? new Shape((int)a.Shape.Rows, a.Shape.Last) : a.Shape, be.ActivationType);
                    if (!transA) be.MatMul(g, false, sb!, !transB, ga);
                    else be.MatMul(sb!, transB, g, true, ga);
                }
                if (n.NeedsGrad[1])
                {
                    var (target, beta, returned) = WeightGradTarget(be, b);
                    gb = returned;
                    if (!transB) be.MatMul(sa!, !transA, g, false, target, 1f, beta);
                    else be.MatMul(g, true, sa!, transA, target, 1f, beta);
                }
                if (flat && ga is not null) { var r = ga.Reshape(a.Shape, track: false); ga.Dispose(); ga = r; }
                return new[] { ga, gb };
            }
        });
    }

    /// <summary>Where a weight's gradient is written: a trainable leaf takes it straight into its fp32 buffer (beta = 1,
    /// no second pass to accumulate); anything else gets a fresh activation-dtype tensor for the backward engine.</summary>
    internal static (Tensor Target, float Beta, Tensor? Returned) WeightGradTarget(IBackend be, Tensor w)
    {
        if (w.GradFn is null && w.RequiresGrad) return (LeafGrad(be, w), 1f, null);
        var fresh = New(be, w.Shape, be.ActivationType);
        return (fresh, 0f, fresh);
    }

    /// <summary>x·Wᵀ for a weight stored [out, in] as in nn.Linear.</summary>
    public static Tensor Linear(Tensor x, Tensor weight) => MatMul(x, weight, transB: true);

    /// <summary>x·Wᵀ with the weight cast to x's dtype first when they differ (an fp32 master weight against bf16
    /// activations); the gradient flows back through the cast. The weight itself is used when the dtypes agree, so a
    /// trainable leaf keeps its identity.</summary>
    public static Tensor LinearInActivationType(Tensor x, Tensor weight)
    {
        if (weight.DType == x.DType) return Linear(x, weight);
        using var w = Cast(weight, x.DType);
        return Linear(x, w);
    }

    public static Shape MatMulShape(Tensor a, bool transA, Tensor b, bool transB)
    {
        int n = transB ? (b.Shape.Rank >= 2 ? b.Shape[-2] : 1) : b.Shape.Last;
        if (b.Shape.Rank >= 3)
        {
            var g0 = a.Shape.ToArray();
            int m = transA ? g0[^1] : g0[^2];
            g0[^2] = m; g0[^1] = n;
            return new Shape(g0);
        }
        if (transA) return new Shape(a.Shape.Last, n);
        return a.Shape.WithLast(n);
    }

    public static Tensor Add(Tensor a, Tensor b)
    {
        var be = Backend.Of(a, b);
        if (a.NumElements != b.NumElements) throw new ArgumentException($"add: {a.Shape} and {b.Shape} differ");
        var y = be.Empty(a.Shape, be.ActivationType);
        be.Add(a, b, y);
        return Record("add", y, new[] { a, b }, _ => (g, n) => new Tensor?[]
        {
            n.NeedsGrad[0] ? g.Reshape(a.Shape, track: false) : null,
            n.NeedsGrad[1] ? g.Reshape(b.Shape, track: false) : null,
        });
    }

    public static Tensor Mul(Tensor a, Tensor b)
    {
        var be = Backend.Of(a, b);
        if (a.NumElements != b.NumElements) throw new ArgumentException($"mul: {a.Shape} and {b.Shape} differ");
        var y = be.Empty(a.Shape, be.ActivationType);
        be.Mul(a, b, y);
        return Record("mul", y, new[] { a, b }, node =>
        {
            var sa = node.NeedsGrad[1] ? node.Save(a) : null;
            var sb = node.NeedsGrad[0] ? node.Save(b) : null;
            return (g, n) =>
            {
                Tensor? ga = null, gb = null;
                if (n.NeedsGrad[0]) { ga = New(be, a.Shape, be.ActivationType); be.Mul(g, sb!, ga); }
                if (n.NeedsGrad[1]) { gb = New(be, b.Shape, be.ActivationType); be.Mul(g, sa!, gb); }
                return new[] { ga, gb };
            };
        });
    }

    public static Tensor Scale(Tensor x, float alpha)
    {
        var be = Be(x);
        var y = be.Empty(x.Shape, x.DType == DType.F32 ? DType.F32 : be.ActivationType);
        be.Scale(x, alpha, y);
        return Record("scale", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, g.DType);
            be.Scale(g, alpha, gx);
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Σ x as a one-element fp32 tensor.</summary>
    public static Tensor Sum(Tensor x)
    {
        var be = Be(x);
        var y = be.Empty(new Shape(1), DType.F32);
        be.Sum(x, y);
        return Record("sum", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, be.ActivationType);
            be.BroadcastScalar(g, 1f, gx);
            return new Tensor?[] { gx };
        });
    }

    public static Tensor Mean(Tensor x)
    {
        using var s = Sum(x);
        return Scale(s, 1f / Math.Max(1, x.NumElements));
    }

    /// <summary>Inverted dropout with a mask that is a pure function of (seed, index), so backward and
    /// recomputation regenerate it exactly. p = 0 is the identity, recorded so the gradient still reaches x (a bare
    /// x.Share() carries no GradFn and would cut the graph).</summary>
    public static Tensor Dropout(Tensor x, float p, ulong seed)
    {
        if (p <= 0f) return Record("dropout", x.Share(), new[] { x }, _ => (g, _) => new Tensor?[] { g.Share(track: false) });
        if (p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), "dropout probability must be below 1");
        var be = Be(x);
        var y = be.Empty(x.Shape, be.ActivationType);
        be.Dropout(x, p, seed, y);
        return Record("dropout", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, be.ActivationType);
            be.Dropout(g, p, seed, gx);
            return new Tensor?[] { gx };
        });
    }
}
