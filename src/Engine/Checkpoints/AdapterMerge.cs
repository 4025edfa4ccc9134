using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary><c>engine merge</c>'s library side: folds a PEFT LoRA adapter into its base model.</summary>
public static class AdapterMerge
{
    /// <summary>Loads the adapter in <paramref name="adapterDir"/> onto <paramref name="model"/> and folds
    /// W + (alpha/r)·B·A into every adapted projection, leaving a plain dense model. An NF4 base is first dequantized
    /// to <paramref name="dtype"/> (as bitsandbytes dequantizes to its compute dtype before PEFT adds the update); the
    /// update itself is added in fp32 and rounded once to the weight's dtype. Returns the number of projections merged.</summary>
    public static int Merge(LlamaModel model, string adapterDir, DType dtype)
    {
        Nf4Quantization.DequantizeLinears(model, dtype);
        var adapter = PeftAdapterIO.Load(model, adapterDir);
        model.Owned.Add(adapter);
        int merged = adapter.Parameters.Count / 2;
        LoraAdapter.MergeInto(model);
        return merged;
    }
}
