using Engine.Backends.Cpu;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Tests.Models;

/// <summary>Small random Llama models for tests.</summary>
internal static class TinyLlama
{
    public static LlamaConfig Config(int layers = 2, int hidden = 8, int heads = 4, int kvHeads = 2, int inter = 12, int vocab = 11, int ctx = 16) => new LlamaConfig
    {
        HiddenSize = hidden, IntermediateSize = inter, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
        HeadDim = hidden / heads, VocabSize = vocab, MaxPositionEmbeddings = ctx, RmsNormEps = 1e-5f,
    }.Validate("test");

    public static LlamaModel Create(LlamaConfig c, ulong seed = 1, bool trainable = true, double std = 0.3, IBackend? be = null)
    {
        be ??= CpuBackend.Instance;
        var p = LlamaWeights.Random(c, be, seed, new WeightOptions { Trainable = trainable ? _ => true : null }, std);
        return new LlamaModel(c, be, p);
    }

    public static (Tensor Ids, Tensor Targets, int Count) Batch(LlamaModel m, int[,] tokens)
    {
        int b = tokens.GetLength(0), t = tokens.GetLength(1);
        var ids = new int[b * t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++) ids[i * t + j] = tokens[i, j];
        var tg = LlamaModel.NextTokenTargets(ids, t);
        int count = tg.Count(x => x >= 0);
        return (m.Backend.FromInts(ids, new Shape(b, t)), m.Backend.FromInts(tg, new Shape(b * t)), count);
    }
}
