using Engine.Formats;

namespace Engine.Checkpoints;

/// <summary>Presents another source's tensors under other names (GGUF names as HF names). Does not own the inner source
/// unless asked to.</summary>
internal sealed class RenamedTensorSource : ITensorSource
{
    private readonly ITensorSource _inner;
    private readonly Dictionary<string, string> _toInner;
    private readonly bool _owns;

    public RenamedTensorSource(ITensorSource inner, IReadOnlyDictionary<string, string> outerToInner, bool ownsInner)
    {
        _inner = inner;
        _toInner = new Dictionary<string, string>(outerToInner);
        _owns = ownsInner;
    }

    public string Path => _inner.Path;
    public IReadOnlyCollection<string> Names => _toInner.Keys;
    public bool Contains(string name) => _toInner.TryGetValue(name, out var n) && _inner.Contains(n);
    public TensorEntry Info(string name) => _inner.Info(Inner(name)) with { Name = name };
    public void ReadFloats(string name, Span<float> dst) => _inner.ReadFloats(Inner(name), dst);
    public ReadOnlySpan<byte> ReadBytes(string name) => _inner.ReadBytes(Inner(name));
    public bool BytesStayMapped => _inner.BytesStayMapped;

    private string Inner(string name) =>
        _toInner.TryGetValue(name, out var n) ? n : throw new FileFormatException(Path, name, "no such tensor");

    public void Dispose()
    {
        if (_owns) _inner.Dispose();
    }
}
