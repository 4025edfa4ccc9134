namespace Engine.Tensors;

/// <summary>Collects every tensor handle created while it is the innermost open scope on this thread and disposes
/// them when it closes, except those passed to <see cref="Keep"/>. A training step runs its forward inside a scope:
/// intermediate handles die at the end of the forward, while the autograd nodes keep their own references to what
/// backward needs and drop them one by one as backward proceeds.</summary>
internal sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _closed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    internal static void Register(Tensor t) => _current?._owned.Add(t);

    /// <summary>Moves the tensor out of this scope (into the enclosing one, if any) so it survives the scope.</summary>
    public Tensor Keep(Tensor t)
    {
        _owned.Remove(t);
        _parent?._owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        if (_current == this) _current = _parent;
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    /// <summary>Runs code with no scope active, so tensors it creates (parameters, caches) are owned by the caller.</summary>
    public static T Unscoped<T>(Func<T> f)
    {
        var saved = _current;
        _current = null;
        try { return f(); }
        finally { _current = saved; }
    }
}
