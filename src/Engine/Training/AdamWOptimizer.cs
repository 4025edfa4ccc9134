using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>AdamW settings; defaults are transformers' TrainingArguments defaults.</summary>
internal sealed record AdamWOptions
{
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Eps { get; init; } = 1e-8f;
    public float WeightDecay { get; init; }
}

/// <summary>AdamW over a set of named trainable tensors, fp32 moments. Weight decay skips norms and biases, as HF does.</summary>
internal sealed class AdamWOptimizer : IDisposable
{
    private readonly IBackend _be;
    private readonly List<(string Name, AdamWSlot Slot)> _slots = new();
    private readonly AdamWOptions _o;

    public AdamWOptimizer(IBackend be, IEnumerable<(string Name, Tensor Param)> parameters, AdamWOptions options)
    {
        _be = be;
        _o = options;
        foreach (var (name, p) in parameters)
        {
            if (p.DType != DType.F32) throw new ArgumentException($"trainable parameter {name} must be fp32, is {p.DType.Name()}");
            var m = TensorScope.Unscoped(() => be.Zeros(p.Shape, DType.F32));
            var v = TensorScope.Unscoped(() => be.Zeros(p.Shape, DType.F32));
            float wd = NoDecay(name) ? 0f : options.WeightDecay;
            _slots.Add((name, new AdamWSlot(p, null!, m, v, wd)));
        }
    }

    /// <summary>Optimizer steps taken so far.</summary>
    public int StepCount { get; set; }
    public IReadOnlyList<(string Name, AdamWSlot Slot)> Slots => _slots;

    public static bool NoDecay(string name) =>
        LlamaWeights.IsNorm(name) || name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal);

    /// <summary>Applies one update with the parameters' current gradients multiplied by <paramref name="gradScale"/>.
    /// Parameters without a gradient this step are skipped.</summary>
    public void Step(float lr, float gradScale)
    {
        StepCount++;
        var slots = new List<AdamWSlot>(_slots.Count);
        foreach (var (_, s) in _slots)
            if (s.Param.Grad is not null) slots.Add(s with { Grad = s.Param.Grad });
        _be.AdamW(slots, new AdamWHyper(lr, _o.Beta1, _o.Beta2, _o.Eps, StepCount, gradScale));
    }

    public void ZeroGrad()
    {
        foreach (var (_, s) in _slots)
            if (s.Param.Grad is not null) _be.Fill(s.Param.Grad, 0f);
    }

    public void Dispose()
    {
        foreach (var (_, s) in _slots) { s.M.Dispose(); s.V.Dispose(); }
        _slots.Clear();
    }
}
