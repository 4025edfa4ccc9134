namespace Engine.Tensors;

/// <summary>Where a tensor's storage lives. Implemented by each backend (see <c>Engine.Backends.IBackend</c>);
/// declared here so that tensors can name their device without depending on the layer above.</summary>
internal interface IDevice
{
    string Name { get; }
    bool IsCuda { get; }
}
