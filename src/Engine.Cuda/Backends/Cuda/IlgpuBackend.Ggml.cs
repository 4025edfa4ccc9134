using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    /// <summary>No ggml block kernels on this backend yet: the loader dequantizes GGUF block weights to the activation
    /// dtype for it, as before.</summary>
    public bool SupportsGgmlWeights => false;

    public void GgmlMatMul(Tensor a, GgmlWeight w, bool transW, Tensor c) =>
        throw new NotSupportedException($"{Name}: ggml block weights ({w.Name}, {w.Type}) are multiplied on the CPU backend only; load the model dequantized for this device");

    public void GgmlEmbedding(GgmlWeight w, Tensor ids, Tensor y) =>
        throw new NotSupportedException($"{Name}: ggml block weights ({w.Name}, {w.Type}) are read on the CPU backend only; load the model dequantized for this device");
}
