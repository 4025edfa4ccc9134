using Engine.Models;
using Engine.Nn;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>What a model holds in ggml block types (GGUF weights kept packed on the CPU), and the way back to dense
/// weights for merging and export.</summary>
internal static class GgmlPacking
{
    /// <summary>The packed linears of a model by weight name (projections, looking through LoRA adapters, and an untied
    /// lm_head), without the embedding.</summary>
    public static IEnumerable<(string Name, GgmlLinear Linear)> PackedLinears(LlamaModel model)
    {
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                var q = layer.Get(proj) switch { GgmlLinear g => g, LoraLinear { Base: GgmlLinear g } => g, _ => null };
                if (q is not null) yield return (LlamaNames.ProjectionWeight(layer.Index, proj), q);
            }
        if (!model.TiedEmbeddings && model.Head is GgmlLinear head) yield return (LlamaNames.LmHead, head);
    }

    /// <summary>Elements and bytes held packed, the number of packed projections, and the block types used (sorted,
    /// joined by '+', e.g. "q4_K+q6_K"; null when nothing is packed).</summary>
    public static (long Elements, long Bytes, int Projections, string? Types) Sizes(LlamaModel model)
    {
        long elements = 0, bytes = 0;
        int projections = 0;
        var types = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, l) in PackedLinears(model))
        {
            elements += (long)l.InFeatures * l.OutFeatures;
            bytes += l.Weight.ByteSize;
            types.Add(l.Weight.Type.Name());
            if (name != LlamaNames.LmHead) projections++;
        }
        if (model.PackedEmbed is { } e)
        {
            elements += (long)e.Rows * e.Cols;
            bytes += e.ByteSize;
            types.Add(e.Type.Name());
        }
        return (elements, bytes, projections, types.Count == 0 ? null : string.Join('+', types));
    }

    /// <summary>Replaces every packed weight (projections bare or under a LoRA adapter, the embedding, the LM head)
    /// by a dense frozen weight of <paramref name="dtype"/> holding its dequantized values, registered under its HF
    /// name (for merging, saving and export). Returns the number of weights dequantized.</summary>
    public static int Dequantize(LlamaModel model, DType dtype)
    {
        int count = 0;
        var be = model.Backend;
        foreach (var layer in model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                var linear = layer.Get(proj);
                var q = linear switch { GgmlLinear g => g, LoraLinear { Base: GgmlLinear g } => g, _ => null };
                if (q is null) continue;
                var dense = Dense(model, q.Weight, dtype);
                model.Parameters.Add(LlamaNames.ProjectionWeight(layer.Index, proj), dense);
                var replacement = new Linear(dense);
                layer.Set(proj, linear is LoraLinear l ? new LoraLinear(replacement, l.A, l.B, l.Scaling, l.Dropout, l.ModuleId) : replacement);
                count++;
            }
        Linear? head = null;
        if (!model.TiedEmbeddings && model.Head is GgmlLinear packedHead)
        {
            var dense = Dense(model, packedHead.Weight, dtype);
            model.Parameters.Add(LlamaNames.LmHead, dense);
            head = new Linear(dense);
            count++;
        }
        Tensor? embedding = null;
        if (model.PackedEmbed is { } e)
        {
            embedding = Dense(model, e, dtype);
            model.Parameters.Add(LlamaNames.Embed, embedding);
            count++;
        }
        model.UseDense(embedding, head);
        return count;
    }

    private static Tensor Dense(LlamaModel model, Backends.GgmlWeight w, DType dtype)
    {
        var data = new float[(long)w.Rows * w.Cols];
        w.DequantizeRows(0, w.Rows, data);
        return TensorScope.Unscoped(() => model.Backend.FromFloats(data, new Shape(w.Rows, w.Cols), dtype));
    }
}
