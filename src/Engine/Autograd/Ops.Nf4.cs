using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>x·Wᵀ for a frozen NF4 weight W [out, in]: [.., in] → [.., out] in the activation dtype. Backward gives
    /// x its gradient g·W (W dequantized again, nothing of it saved); W itself never gets one (QLoRA's frozen base).</summary>
    public static Tensor Nf4Linear(Tensor x, Nf4DeviceWeight weight)
    {
        var be = Be(x);
        if (!ReferenceEquals(weight.Device, x.Device))
            throw new InvalidOperationException($"nf4 linear: the input lives on {x.Device.Name}, the weight on {weight.Device.Name}");
        if (x.Shape.Last != weight.Cols)
            throw new ArgumentException($"nf4 linear: input {x.Shape} does not end in the weight's {weight.Cols} input features");
        var y = be.Empty(x.Shape.WithLast(weight.Rows), be.ActivationType);
        be.Nf4MatMul(x, weight, transW: true, y);
        return Record("nf4_linear", y, new[] { x }, _ => (g, _) =>
        {
            var gx = New(be, x.Shape, be.ActivationType);
            be.Nf4MatMul(g, weight, transW: false, gx);
            return new Tensor?[] { gx };
        });
    }
}
