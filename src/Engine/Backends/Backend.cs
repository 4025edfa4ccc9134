using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Finds the backend that owns a tensor, and checks that operands share one.</summary>
public static class Backend
{
    public static IBackend Of(Tensor t) => (IBackend)t.Device;

    public static IBackend Of(Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Device, b.Device))
            throw new InvalidOperationException($"operands live on different devices: {a} and {b}");
        return (IBackend)a.Device;
    }
}
