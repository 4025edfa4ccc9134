using Engine.Tensors;

namespace Engine.Autograd;

/// <summary>For one backward call, the contributions each leaf still awaits: one per edge from a recorded node to the
/// leaf. When a leaf's count reaches zero its <see cref="Tensor.Grad"/> is final for this backward, and the callback hears
/// of it (data-parallel training starts the leaf's gradient bucket then, while the rest of the backward runs). Leaves the
/// graph never reaches, and leaves that only a recomputed checkpoint block touches (their nodes exist only inside the
/// block's own backward), are never reported: the caller treats whatever was not reported as final once the backward
/// returns. A contribution to a leaf after its report would be a wrong gradient already sent; it throws instead.</summary>
internal sealed class LeafReadiness
{
    [ThreadStatic] private static LeafReadiness? _active;

    private readonly Dictionary<Tensor, int> _pending = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Tensor> _reported = new(ReferenceEqualityComparer.Instance);
    private readonly Action<Tensor> _ready;

    /// <summary>Counts the leaf edges of <paramref name="nodes"/> (every node this backward will visit).</summary>
    public LeafReadiness(IReadOnlyList<Node> nodes, Action<Tensor> ready)
    {
        _ready = ready;
        foreach (var node in nodes)
            for (int k = 0; k < node.Inputs.Length; k++)
                if (IsLeafEdge(node, k)) _pending[node.Inputs[k]] = _pending.GetValueOrDefault(node.Inputs[k]) + 1;
    }

    private static bool IsLeafEdge(Node node, int k) => node.NeedsGrad[k] && node.Inputs[k].GradFn is null;

    /// <summary>Makes this the readiness that <see cref="ThrowIfReported"/> checks on this thread until disposed.</summary>
    public Scope Activate() => new(this);

    /// <summary>Called once <paramref name="node"/> has sent its gradients (or was skipped because none reached it): each
    /// of its leaf edges is one contribution less.</summary>
    public void Visited(Node node)
    {
        for (int k = 0; k < node.Inputs.Length; k++)
        {
            if (!IsLeafEdge(node, k)) continue;
            var leaf = node.Inputs[k];
            int left = _pending[leaf] - 1;
            _pending[leaf] = left;
            if (left > 0) continue;
            _reported.Add(leaf);
            _ready(leaf);
        }
    }

    /// <summary>Throws when the active backward already reported <paramref name="leaf"/> final.</summary>
    public static void ThrowIfReported(Tensor leaf)
    {
        if (_active is { } a && a._reported.Contains(leaf))
            throw new InvalidOperationException($"{leaf.Name ?? "a leaf"} received a gradient after it was reported final for this backward " +
                                                "(a recomputed block reached a leaf that the outer graph also uses)");
    }

    internal readonly struct Scope : IDisposable
    {
        private readonly LeafReadiness? _previous;

        public Scope(LeafReadiness current)
        {
            _previous = _active;
            _active = current;
        }

        public void Dispose() => _active = _previous;
    }
}
