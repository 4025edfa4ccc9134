using Engine.Autograd;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>PEFT's LoRA: y = base(x) + scaling·B·A·dropout(x), with A [r, in] and B [out, r] trainable and the base
/// frozen. B starts at zero, so a fresh adapter reproduces the base model exactly.</summary>
internal sealed class LoraLinear : ILinear
{
    public LoraLinear(ILinear baseLinear, Tensor a, Tensor b, float scaling, float dropout, int moduleId)
    {
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2 || a.Shape[1] != baseLinear.InFeatures || b.Shape[0] != baseLinear.OutFeatures || a.Shape[0] != b.Shape[1])
            throw new ArgumentException($"LoRA shapes A {a.Shape}, B {b.Shape} do not fit a {baseLinear.OutFeatures}×{baseLinear.InFeatures} layer");
        Base = baseLinear;
        A = a;
        B = b;
        Scaling = scaling;
        Dropout = dropout;
        ModuleId = moduleId;
    }

    public ILinear Base { get; }
    public Tensor A { get; }
    public Tensor B { get; }
    public float Scaling { get; }
    public float Dropout { get; }
    public int ModuleId { get; }
    public int Rank => A.Shape[0];
    public int InFeatures => Base.InFeatures;
    public int OutFeatures => Base.OutFeatures;

    /// <summary>One fused op (see <see cref="Ops.LoraLinear"/>) over the base's own forward; dropout only while training.</summary>
    public Tensor Forward(Tensor x, ForwardContext ctx)
    {
        bool drop = ctx.Training && Dropout > 0;
        return Ops.LoraLinear(x, v => Base.Forward(v, ctx), A, B, Scaling, drop ? Dropout : 0f, drop ? ctx.SeedFor(ModuleId) : 0UL);
    }
}
