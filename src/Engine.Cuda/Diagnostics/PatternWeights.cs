using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>Weights for throughput benchmarks, created on the device: one block of seeded normal values is uploaded
/// once and copied (device to device) over every tensor. Throughput does not depend on the values, and a 7B model is
/// ready in seconds instead of minutes of host-side random numbers and uploads.</summary>
internal static class PatternWeights
{
    public static ParameterSet Create(LlamaConfig c, IBackend be, WeightOptions o, double std = 0.02, int blockElements = 1 << 22)
    {
        var host = new float[blockElements];
        new Rng(17).FillNormal(host, 0, std);
        using var block = be.FromFloats(host, new Shape(blockElements), DType.F32);
        var set = new ParameterSet();
        foreach (var (name, shape) in LlamaWeights.Expected(c))
        {
            bool trainable = o.Trainable?.Invoke(name) ?? false;
            var dtype = trainable || LlamaWeights.IsNorm(name) ? DType.F32 : o.FrozenDType ?? be.ActivationType;
            var t = TensorScope.Unscoped(() => be.Empty(new Shape(shape), dtype));
            if (LlamaWeights.IsNorm(name)) be.Fill(t, 1f);
            else Tile(be, block, t);
            t.RequiresGrad = trainable;
            set.Add(name, t);
        }
        return set;
    }

    private static void Tile(IBackend be, Tensor block, Tensor t)
    {
        using var flat = t.Reshape(new Shape((int)t.NumElements), track: false);
        long n = t.NumElements;
        for (long off = 0; off < n; off += block.NumElements)
        {
            int len = (int)Math.Min(block.NumElements, n - off);
            using var dst = flat.Slice((int)off, len);
            using var src = block.Slice(0, len);
            be.Copy(src, dst);
        }
    }
}
