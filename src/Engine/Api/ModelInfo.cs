namespace Engine.Api;

/// <summary>What a model is: where it came from, its architecture (HF config names) and its tokenizer.</summary>
public sealed record ModelInfo
{
    /// <summary>The file or folder the model was loaded from ("demo" for the built-in demo).</summary>
    public required string Path { get; init; }
    /// <summary>HfFolder, Llama2c, Gguf or Demo.</summary>
    public required string Format { get; init; }
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public int VocabSize { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    public float RmsNormEps { get; init; }
    public float RopeTheta { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int BosTokenId { get; init; }
    public int EosTokenId { get; init; }
    /// <summary>Parameters of the base model (LoRA adapters not counted).</summary>
    public long Parameters { get; init; }
    /// <summary>"nf4", "nf4+dq" (double-quantized scales) or null when the projections are not quantized.</summary>
    public string? Quantization { get; init; }
    /// <summary>Projections held in NF4.</summary>
    public int QuantizedProjections { get; init; }
    /// <summary>The tokenizer file, "embedded" (a GGUF vocabulary or the demo's), or null when none was found.</summary>
    public string? Tokenizer { get; init; }
    public int? TokenizerVocabSize { get; init; }
}
