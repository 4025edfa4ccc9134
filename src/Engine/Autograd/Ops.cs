using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

/// <summary>Differentiable operations. Each one computes its output through the tensors' backend and, when gradients
/// are being recorded and some input wants one, attaches a <see cref="Node"/> that knows the backward.
/// Callers write plain forward code; fused variants and recomputation slot in here without changing them.</summary>
internal static partial class Ops
{
    /// <summary>True when an op over these inputs must be recorded.</summary>
    public static bool ShouldRecord(params Tensor[] inputs)
    {
        if (!GradMode.Enabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad || t.GradFn is not null) return true;
        return false;
    }

    /// <summary>Attaches a node to <paramref name="output"/> when recording is on. <paramref name="build"/> runs once,
    /// saves what backward needs through <see cref="Node.Save(Tensor)"/>, and returns the backward function.</summary>
    internal static Tensor Record(string op, Tensor output, Tensor[] inputs, Func<Node, BackwardFn> build)
    {
        if (!ShouldRecord(inputs)) return output;
        var node = new Node(op, inputs) { OutputShape = output.Shape };
        node.SetBackward(build(node));
        output.GradFn = node;
        return output;
    }

    internal static IBackend Be(Tensor t) => Backend.Of(t);

    // ---- shape ----------------------------------------------------------------------------------------------

    /// <summary>A view with another shape; its gradient is the incoming gradient viewed back.</summary>
    public static Tensor Reshape(Tensor x, params int[] dims)
    {
        var y = x.Reshape(dims);
        var inShape = x.Shape;
        return Record("reshape", y, new[] { x }, _ => (g, _) => new Tensor?[] { g.Reshape(inShape, track: false) });
    }

    /// <summary>Converts to another dtype; the gradient is converted back.</summary>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        if (x.DType == dtype) return Record("cast", x.Share(), new[] { x }, _ => (g, _) => new Tensor?[] { g.Share(track: false) });
        var be = Be(x);
        var y = be.Empty(x.Shape, dtype);
        be.Copy(x, y);
        var src = x.DType;
        return Record("cast", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, src.IsFloat() ? src : DType.F32);
            be.Copy(g, gx);
            return new Tensor?[] { gx };
        });
    }

    /// <summary>An output buffer owned by the backward engine (not by any open scope).</summary>
    internal static Tensor New(IBackend be, Shape shape, DType dtype) => TensorScope.Unscoped(() => be.Empty(shape, dtype));
    internal static Tensor NewZeros(IBackend be, Shape shape, DType dtype) => TensorScope.Unscoped(() => be.Zeros(shape, dtype));

    /// <summary>A trainable leaf's fp32 gradient buffer, created zeroed on first use, for backwards that accumulate into it
    /// directly (beta = 1) instead of returning a gradient (see <see cref="LeafReadiness"/> for the check).</summary>
    internal static Tensor LeafGrad(IBackend be, Tensor leaf)
    {
        LeafReadiness.ThrowIfReported(leaf);
        return leaf.Grad ??= NewZeros(be, leaf.Shape, DType.F32);
    }
}
