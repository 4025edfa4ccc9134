using Engine.Tensors;

namespace Engine.Autograd;

/// <summary>Computes the gradients of an op's inputs from the gradient of its output. Returns one entry per input,
/// null where the input needs no gradient (see <see cref="Node.NeedsGrad"/>). The returned tensors are owned by the
/// caller (the backward engine), which accumulates and disposes them.</summary>
internal delegate Tensor?[] BackwardFn(Tensor gradOutput, Node node);

/// <summary>One recorded operation: which tensors went in, and how to send a gradient back to them.
/// The tensors an op saves for backward are held through <see cref="Save(Tensor)"/> as handles of their own, released the
/// moment this node's backward has run.</summary>
internal sealed class Node : IGradNode
{
    private readonly List<Tensor> _saved = new();
    private readonly List<Node> _adopted = new();
    private BackwardFn? _backward;
    private bool _ran;

    internal Node(string opName, Tensor[] inputs)
    {
        OpName = opName;
        Inputs = inputs;
        NeedsGrad = new bool[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) NeedsGrad[i] = inputs[i].RequiresGrad || inputs[i].GradFn is not null;
    }

    public string OpName { get; }
    /// <summary>The input handles, kept only to route gradients (their GradFn or, for leaves, their Grad).</summary>
    public Tensor[] Inputs { get; }
    /// <summary>Per input: is a gradient wanted? Frozen weights say no, so their gradients are never computed.</summary>
    public bool[] NeedsGrad { get; }
    public bool Released => _backward is null;
    /// <summary>The shape and dtype of the output, for ops whose backward needs them after the output is gone.</summary>
    public Shape OutputShape { get; internal set; } = new();

    /// <summary>Keeps a reference to a tensor until this node's backward has run.</summary>
    public Tensor Save(Tensor t)
    {
        var h = t.Share(track: false);
        _saved.Add(h);
        return h;
    }

    /// <summary>Keeps a reference to a tensor, viewed with another shape of the same size, until backward has run.</summary>
    public Tensor Save(Tensor t, Shape viewAs)
    {
        var h = t.Reshape(viewAs, track: false);
        _saved.Add(h);
        return h;
    }

    /// <summary>Takes over a node whose output this op consumed in place (a fused op running another op's backward
    /// itself): it is released with this one, so its saved tensors never outlive this node when backward skips it.</summary>
    internal void Adopt(Node inner) => _adopted.Add(inner);

    internal void SetBackward(BackwardFn fn) => _backward = fn;

    internal Tensor?[] RunBackward(Tensor gradOutput)
    {
        if (_backward is null && _ran)
            throw new InvalidOperationException($"backward through {OpName} a second time: its saved tensors were already released");
        var fn = _backward ?? throw new InvalidOperationException($"{OpName} has no backward");
        _ran = true;
        try { return fn(gradOutput, this); }
        finally { Release(); }
    }

    /// <summary>Drops the saved tensors and the backward closure.</summary>
    public void Release()
    {
        foreach (var t in _saved) t.Dispose();
        _saved.Clear();
        foreach (var n in _adopted) n.Release();
        _adopted.Clear();
        _backward = null;
    }
}
