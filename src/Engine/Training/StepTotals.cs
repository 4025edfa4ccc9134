using Engine.Backends;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>An optimizer step's loss (summed over its micro-batches) and squared gradient norm, accumulated on the
/// device and read back together: the step's one host synchronisation. Reading the loss after every micro-batch and a
/// norm per tensor stalled the GPU hundreds of times per step (LoRA on a 7B shape has 448 trainable tensors).</summary>
internal sealed class StepTotals : IDisposable
{
    private const int LossSlot = 0, SquaredNormSlot = 1;
    private readonly IBackend _be;
    private readonly Tensor _acc;
    private readonly float[] _host = new float[SplitDouble.Elements(2)];

    public StepTotals(IBackend be)
    {
        _be = be;
        _acc = TensorScope.Unscoped(() => be.Zeros(new Shape(_host.Length), DType.F32));
    }

    /// <summary>Adds a micro-batch's loss (a one-element tensor) without reading it.</summary>
    public void AddLoss(Tensor loss) => _be.SumInto(new[] { loss }, _acc, LossSlot);

    /// <summary>Adds Σ g² over the gradients of <paramref name="parameters"/> (those without one are skipped), as
    /// torch.nn.utils.clip_grad_norm_ takes the global norm.</summary>
    public void AddSquaredNorm(IEnumerable<Tensor> parameters) =>
        _be.SumSquaresInto(parameters.Where(p => p.Grad is not null).Select(p => p.Grad!).ToList(), _acc, SquaredNormSlot);

    /// <summary>The loss sum and the global gradient norm so far (one read), and starts the next step from zero.</summary>
    public (double Loss, double Norm) ReadAndReset()
    {
        _be.ToFloats(_acc, _host);
        _be.Fill(_acc, 0f);
        return (SplitDouble.Read(_host, LossSlot), Math.Sqrt(SplitDouble.Read(_host, SquaredNormSlot)));
    }

    public void Dispose() => _acc.Dispose();
}
