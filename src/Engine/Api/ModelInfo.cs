namespace Engine.Api;

/// <summary>What a model is: where it came from, its architecture (HF config names) and its tokenizer.</summary>
public sealed record ModelInfo
{
    /// <summary>The file or folder the model was loaded from ("demo" for the built-in demo).</summary>
    public required string Path { get; init; }
    /// <summary>HfFolder, Llama2c, Gguf or Demo.</summary>
    public required string Format { get; init; }
    /// <summary>The architecture as config.json's model_type names it: "llama", "mistral", "qwen2" or "qwen3".</summary>
    public string ModelType { get; init; } = "llama";
    /// <summary>config.json's rope_scaling type ("linear", "llama3", "yarn"), or null for plain RoPE.</summary>
    public string? RopeScaling { get; init; }
    /// <summary>Sliding attention window in tokens, or null when every layer attends to the whole context.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Width of the residual stream (hidden_size).</summary>
    public int HiddenSize { get; init; }
    /// <summary>Width of the SwiGLU MLP (intermediate_size).</summary>
    public int IntermediateSize { get; init; }
    /// <summary>Decoder layers.</summary>
    public int NumHiddenLayers { get; init; }
    /// <summary>Query heads.</summary>
    public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads (fewer than the query heads with grouped-query attention).</summary>
    public int NumKeyValueHeads { get; init; }
    /// <summary>Width of one attention head.</summary>
    public int HeadDim { get; init; }
    /// <summary>Rows of the embedding and the LM head.</summary>
    public int VocabSize { get; init; }
    /// <summary>The context length the model was trained for.</summary>
    public int MaxPositionEmbeddings { get; init; }
    /// <summary>Epsilon of every RMSNorm.</summary>
    public float RmsNormEps { get; init; }
    /// <summary>Base of the rotary position embedding.</summary>
    public float RopeTheta { get; init; }
    /// <summary>True when the LM head is the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Beginning-of-sequence token.</summary>
    public int BosTokenId { get; init; }
    /// <summary>End-of-sequence token.</summary>
    public int EosTokenId { get; init; }
    /// <summary>Parameters of the base model (LoRA adapters not counted).</summary>
    public long Parameters { get; init; }
    /// <summary>"nf4", "nf4+dq" (double-quantized scales), the ggml block types a GGUF model is held in on the CPU
    /// ("q4_0", "q4_K+q6_K", …), or null when nothing is quantized.</summary>
    public string? Quantization { get; init; }
    /// <summary>Projections held quantized (NF4, or ggml blocks).</summary>
    public int QuantizedProjections { get; init; }
    /// <summary>The tokenizer file, "embedded" (a GGUF vocabulary or the demo's), or null when none was found.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Tokens of the tokenizer, when one was found.</summary>
    public int? TokenizerVocabSize { get; init; }
}
