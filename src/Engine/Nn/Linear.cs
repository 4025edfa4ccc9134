using Engine.Autograd;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A dense weight [out, in]. A trainable fp32 master weight is cast to the activation dtype for the product
/// (a no-op on the CPU); the gradient flows back through the cast into the fp32 master's gradient.</summary>
internal sealed class Linear : ILinear
{
    public Linear(Tensor weight)
    {
        if (weight.Shape.Rank != 2) throw new ArgumentException($"a linear weight is [out, in], got {weight.Shape}");
        Weight = weight;
    }

    public Tensor Weight { get; }
    public int InFeatures => Weight.Shape[1];
    public int OutFeatures => Weight.Shape[0];

    public Tensor Forward(Tensor x, ForwardContext ctx) => Ops.LinearInActivationType(x, Weight);
}
