using Engine.Autograd;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A frozen linear weight [out, in] kept in the ggml block type a GGUF file stores it in (q8_0, q4_0, …,
/// the k-quants): inference on the quantized weight and a LoRA base that is never dequantized as a whole. Does not own
/// the weight's bytes when they are a view into a mapped file (the model owns the file).</summary>
internal sealed class GgmlLinear : ILinear, IDisposable
{
    public GgmlLinear(GgmlWeight weight) => Weight = weight;

    public GgmlWeight Weight { get; }
    public int InFeatures => Weight.Cols;
    public int OutFeatures => Weight.Rows;

    public Tensor Forward(Tensor x, ForwardContext ctx) => Ops.GgmlLinear(x, Weight);

    public void Dispose() => Weight.Dispose();
}
