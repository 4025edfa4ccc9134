using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

/// <summary>Runs reverse-mode differentiation from a scalar through the recorded nodes, in reverse topological order.
/// Gradients of leaves are accumulated into their fp32 <see cref="Tensor.Grad"/>; intermediate gradients are freed as
/// soon as the node that consumes them has run, and so are the tensors each node saved.</summary>
internal static class BackwardPass
{
    public static void Backward(this Tensor root) => Run(root, null);

    /// <summary>Backward from <paramref name="root"/> with an explicit output gradient (ones when null). When
    /// <paramref name="leafReady"/> is given, it is called with each leaf as soon as the leaf's gradient is final for
    /// this call (see <see cref="LeafReadiness"/>), on the calling thread, at most once per leaf.</summary>
    public static void Run(Tensor root, Tensor? gradRoot, Action<Tensor>? leafReady = null)
    {
        if (root.GradFn is not Node rootNode)
        {
            if (root.RequiresGrad) throw new InvalidOperationException("backward from a leaf: there is nothing to differentiate");
            throw new InvalidOperationException("backward from a tensor that was not computed with gradients (did a NoGrad scope or frozen weights cut the graph?)");
        }
        var be = Backend.Of(root);
        if (gradRoot is null)
        {
            if (root.NumElements != 1) throw new InvalidOperationException($"backward needs a scalar, got {root.Shape}; pass the output gradient");
            gradRoot = be.Empty(root.Shape, DType.F32);
            be.Fill(gradRoot, 1f);
        }
        else gradRoot = gradRoot.Share(track: false);

        var order = TopologicalOrder(rootNode);
        var grads = new Dictionary<Node, Tensor> { [rootNode] = gradRoot };
        var readiness = leafReady is null ? null : new LeafReadiness(order, leafReady);
        using var active = readiness?.Activate();
        try
        {
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var node = order[i];
                if (!grads.Remove(node, out var g))
                {
                    node.Release();
                    readiness?.Visited(node);
                    continue;
                }
                Tensor?[] inGrads;
                try { inGrads = node.RunBackward(g); }
                finally { g.Dispose(); }
                for (int k = 0; k < node.Inputs.Length; k++)
                {
                    var gi = inGrads[k];
                    if (gi is null) continue;
                    var input = node.Inputs[k];
                    if (input.GradFn is Node producer)
                    {
                        if (grads.TryGetValue(producer, out var existing))
                        {
                            Accumulate(existing, gi);
                            gi.Dispose();
                        }
                        else grads[producer] = gi;
                    }
                    else if (input.RequiresGrad)
                    {
                        AccumulateLeaf(input, gi);
                        gi.Dispose();
                    }
                    else gi.Dispose();
                }
                readiness?.Visited(node);
            }
        }
        finally
        {
            foreach (var g in grads.Values) g.Dispose();
        }
    }

    private static void Accumulate(Tensor into, Tensor g)
    {
        Backend.Of(into).Axpy(1f, g, into);
    }

    /// <summary>Adds a gradient into a leaf's fp32 buffer, creating it (zeroed) on first use.</summary>
    public static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        LeafReadiness.ThrowIfReported(leaf);
        var be = Backend.Of(leaf);
        if (leaf.Grad is null)
        {
            leaf.Grad = TensorScope.Unscoped(() => be.Zeros(leaf.Shape, DType.F32));
            leaf.Grad.Name = (leaf.Name ?? "param") + ".grad";
        }
        be.Axpy(1f, g, leaf.Grad);
    }

    private static List<Node> TopologicalOrder(Node root)
    {
        var order = new List<Node>();
        var seen = new HashSet<Node>();
        var stack = new Stack<(Node Node, int Next)>();
        stack.Push((root, 0));
        seen.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                if (node.Inputs[next].GradFn is Node child && node.NeedsGrad[next] && seen.Add(child))
                    stack.Push((child, 0));
            }
            else order.Add(node);
        }
        return order; // children before parents; iterate from the end for backward
    }
}
