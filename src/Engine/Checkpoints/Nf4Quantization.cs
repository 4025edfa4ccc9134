using Engine.Models;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>Sizes of a model's base weights: every element as bf16, and as held with NF4 projections (the rest
/// counted at bf16, as QLoRA keeps embeddings, norms and the LM head in 16 bits).</summary>
internal readonly record struct BaseWeightBytes(long Bf16, long Quantized, int QuantizedProjections, bool DoubleQuant);

/// <summary>QLoRA's frozen base: the seven projections of every layer in NF4 (bitsandbytes layout, optionally double
/// quantized); embeddings, norms and the LM head stay in higher precision, as QLoRA does.</summary>
internal static class Nf4Quantization
{
    /// <summary>Replaces every dense projection with an <see cref="Nf4Linear"/> and frees its dense weight. The codes
    /// are those bitsandbytes gives the weight rounded to bf16 (see <see cref="Nf4Linear.Quantize"/>). Returns the number
    /// of projections quantized; ones already in NF4 are left as they are. Adapters must be attached afterwards.</summary>
    public static int QuantizeLinears(LlamaModel model, bool doubleQuant, int blockSize = Quant.Nf4Quantizer.DefaultBlockSize)
    {
        int count = 0;
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                switch (layer.Get(proj))
                {
                    case Nf4Linear:
                        continue;
                    case Linear dense:
                        if (dense.Weight.RequiresGrad)
                            throw new EngineException($"layer {layer.Index} {proj} is trainable; only frozen weights can be quantized to NF4");
                        var q = Nf4Linear.Quantize(dense.Weight, doubleQuant, blockSize);
                        layer.Set(proj, q);
                        model.Owned.Add(q);
                        if (model.Parameters.Remove(LlamaNames.ProjectionWeight(layer.Index, proj), out var t)) t.Dispose();
                        count++;
                        break;
                    default:
                        throw new EngineException($"layer {layer.Index} {proj} is already wrapped ({layer.Get(proj).GetType().Name}); quantize the base before attaching adapters");
                }
            }
        return count;
    }

    /// <summary>Replaces every NF4 projection (bare or under a LoRA adapter) by a dense frozen weight of
    /// <paramref name="dtype"/> holding its dequantized values, registered under its HF name (for merging and saving
    /// full-precision models).</summary>
    public static int DequantizeLinears(LlamaModel model, DType dtype)
    {
        int count = 0;
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                var linear = layer.Get(proj);
                var q = linear switch { Nf4Linear n => n, LoraLinear { Base: Nf4Linear n } => n, _ => null };
                if (q is null) continue;
                var dense = q.Dequantize(dtype);
                model.Parameters.Add(LlamaNames.ProjectionWeight(layer.Index, proj), dense);
                var replacement = new Linear(dense);
                layer.Set(proj, linear is LoraLinear l
                    ? new LoraLinear(replacement, l.A, l.B, l.Scaling, l.Dropout, l.ModuleId)
                    : replacement);
                model.Owned.Remove(q);
                q.Dispose();
                count++;
            }
        return count;
    }

    /// <summary>The NF4 projections of a model by weight name (model.layers.{i}.self_attn.q_proj.weight), looking
    /// through LoRA adapters.</summary>
    public static IEnumerable<(string Name, Nf4Linear Linear)> QuantizedProjections(LlamaModel model)
    {
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                var q = layer.Get(proj) switch { Nf4Linear n => n, LoraLinear { Base: Nf4Linear n } => n, _ => null };
                if (q is not null) yield return (LlamaNames.ProjectionWeight(layer.Index, proj), q);
            }
    }

    public static BaseWeightBytes Sizes(LlamaModel model)
    {
        long dense = model.Parameters.CountElements();
        long quantElements = 0, quantBytes = 0;
        int count = 0;
        bool dq = true;
        foreach (var (_, q) in QuantizedProjections(model))
        {
            quantElements += (long)q.InFeatures * q.OutFeatures;
            quantBytes += q.ByteSize;
            dq &= q.IsDoubleQuantized;
            count++;
        }
        return new BaseWeightBytes(2 * (dense + quantElements), 2 * dense + quantBytes, count, count > 0 && dq);
    }
}
