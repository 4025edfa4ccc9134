using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Finds the backend that owns a tensor, and checks that operands share one.</summary>
internal static class Backend
{
    public static IBackend Of(Tensor t) => (IBackend)t.Device;

    /// <summary>The value of a one-element float tensor, read back to the host (a device sync).</summary>
    public static float Item(this Tensor t)
    {
        if (t.NumElements != 1) throw new InvalidOperationException($"Item needs a one-element tensor, got {t.Shape}");
        Span<float> v = stackalloc float[1];
        Of(t).ToFloats(t, v);
        return v[0];
    }

    public static IBackend Of(Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Device, b.Device))
            throw new InvalidOperationException($"operands live on different devices: {a} and {b}");
        return (IBackend)a.Device;
    }
}
