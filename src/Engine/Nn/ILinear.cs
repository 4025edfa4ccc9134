using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A linear map y = x·Wᵀ (W stored [out, in] as in nn.Linear) in one of its forms: a dense weight, a frozen
/// quantized weight, or either of those wrapped with a LoRA adapter.</summary>
internal interface ILinear
{
    int InFeatures { get; }
    int OutFeatures { get; }
    Tensor Forward(Tensor x, ForwardContext ctx);
}
