using Engine.Backends;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>One trainable parameter's AdamW moments on the host, as optimizer.safetensors stores them
/// ("{name}.exp_avg" and "{name}.exp_avg_sq").</summary>
internal sealed record OptimizerMoments(string Name, int[] Shape, float[] ExpAvg, float[] ExpAvgSq)
{
    /// <summary>The moments of one optimizer slot, copied to the host.</summary>
    public static OptimizerMoments Of(string name, AdamWSlot slot) => new(name, slot.M.Shape.ToArray(), Host(slot.M), Host(slot.V));

    /// <summary>Every slot of <paramref name="optimizer"/>, in its order.</summary>
    public static List<OptimizerMoments> All(AdamWOptimizer optimizer) => optimizer.Slots.Select(s => Of(s.Name, s.Slot)).ToList();

    private static float[] Host(Tensor t)
    {
        var a = new float[t.NumElements];
        Backend.Of(t).ToFloats(t, a);
        return a;
    }
}
