using Engine.Models;

namespace Engine.Diagnostics;

/// <summary>Named model shapes for throughput benchmarks (the peer script uses the same ones).</summary>
internal static class BenchShapes
{
    public static readonly string[] Names =
        ["llama2-7b", "llama3-8b", "tinyllama-1b", "stories15m", "stories260k", "llama3.2-1b", "llama3.2-1b-32k", "qwen2.5-0.5b"];

    private static LlamaConfig Llama32(int vocab) => new()
    {
        HiddenSize = 2048, IntermediateSize = 8192, NumLayers = 16, NumHeads = 32, NumKvHeads = 8, HeadDim = 64,
        VocabSize = vocab, MaxPositionEmbeddings = 131072, RmsNormEps = 1e-5f, RopeTheta = 500000f, TieWordEmbeddings = true,
    };

    public static LlamaConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "llama2-7b" => new LlamaConfig
        {
            HiddenSize = 4096, IntermediateSize = 11008, NumLayers = 32, NumHeads = 32, NumKvHeads = 32, HeadDim = 128,
            VocabSize = 32000, MaxPositionEmbeddings = 4096, RmsNormEps = 1e-5f,
        },
        // Llama 3 8B: untied 128,256-token vocabulary, GQA 32/8 (the peer script's lora8b case).
        "llama3-8b" => new LlamaConfig
        {
            HiddenSize = 4096, IntermediateSize = 14336, NumLayers = 32, NumHeads = 32, NumKvHeads = 8, HeadDim = 128,
            VocabSize = 128256, MaxPositionEmbeddings = 8192, RmsNormEps = 1e-5f, RopeTheta = 500000f,
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
        // Llama 3.2 1B (tied, 128K vocabulary, GQA 32/8) and the same body with Llama 2's 32K vocabulary, to show what
        // the vocabulary costs; Qwen 2.5 0.5B (tied, 152K vocabulary, q/k/v biases, GQA 14/2).
        "llama3.2-1b" => Llama32(128256),
        "llama3.2-1b-32k" => Llama32(32000),
        "qwen2.5-0.5b" => new LlamaConfig
        {
            Family = ModelFamily.Qwen2, HiddenSize = 896, IntermediateSize = 4864, NumLayers = 24, NumHeads = 14, NumKvHeads = 2,
            HeadDim = 64, VocabSize = 151936, MaxPositionEmbeddings = 32768, RmsNormEps = 1e-6f, RopeTheta = 1e6f, TieWordEmbeddings = true,
        },
        _ => throw new EngineException($"--shape: expected one of {string.Join(", ", Names)}, got \"{name}\""),
    };
}
