using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>A before-the-run estimate of device memory: exact sizes for weights, gradients and Adam moments, and a
/// per-layer activation model (what each op saves for backward) for one micro-batch.</summary>
internal readonly record struct MemoryEstimate(long Weights, long Gradients, long Optimizer, long Activations)
{
    public long Total => Weights + Gradients + Optimizer + Activations;

    public static MemoryEstimate For(LlamaModel model, IReadOnlyList<(string Name, Tensor Param)> trainable, int batch, int seq, bool checkpointing)
    {
        long weights = model.Parameters.All.Sum(p => p.Tensor.ByteLength) + model.Owned.OfType<Nn.ParameterSet>().Sum(s => s.All.Sum(p => p.Tensor.ByteLength))
                       + Nf4Quantization.QuantizedProjections(model).Sum(q => q.Linear.ByteSize) + GgmlPacking.Sizes(model).Bytes;
        long trainBytes = trainable.Sum(t => t.Param.NumElements * 4L);
        var c = model.Config;
        long act = model.Backend.ActivationType.SizeInBytes();
        long n = (long)batch * seq;
        // Saved per layer: norm inputs (2·D), q/k/v/attention output (Q + 2·KV + Q), o-proj input, gate/up/act (3·I).
        long perLayer = n * (4L * c.HiddenSize + 2L * c.QDim + 2L * c.KvDim + 3L * c.IntermediateSize) * act;
        long logits = n * c.VocabSize * 4L * 2; // fp32 logits and their gradient
        long activations = checkpointing ? c.NumLayers * n * c.HiddenSize * act + perLayer + logits : c.NumLayers * perLayer + logits;
        return new MemoryEstimate(weights, trainBytes, 2 * trainBytes, activations);
    }
}
