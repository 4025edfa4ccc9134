using Engine.Models;

namespace Engine.Diagnostics;

/// <summary>Named model shapes for throughput benchmarks (the peer script uses the same ones).</summary>
internal static class BenchShapes
{
    public static LlamaConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "llama2-7b" => new LlamaConfig
        {
            HiddenSize = 4096, IntermediateSize = 11008, NumLayers = 32, NumHeads = 32, NumKvHeads = 32, HeadDim = 128,
            VocabSize = 32000, MaxPositionEmbeddings = 4096, RmsNormEps = 1e-5f,
        },
        "tinyllama-1b" => new LlamaConfig
        {
            HiddenSize = 2048, IntermediateSize = 5632, NumLayers = 22, NumHeads = 32, NumKvHeads = 4, HeadDim = 64,
            VocabSize = 32000, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5f,
        },
        "stories15m" => new LlamaConfig
        {
            HiddenSize = 288, IntermediateSize = 768, NumLayers = 6, NumHeads = 6, NumKvHeads = 6, HeadDim = 48,
            VocabSize = 32000, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5f,
        },
        "stories260k" => new LlamaConfig
        {
            HiddenSize = 64, IntermediateSize = 172, NumLayers = 5, NumHeads = 8, NumKvHeads = 4, HeadDim = 8,
            VocabSize = 512, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5f, TieWordEmbeddings = true,
        },
        _ => throw new EngineException($"--shape: expected llama2-7b, tinyllama-1b, stories15m or stories260k, got \"{name}\""),
    };
}
