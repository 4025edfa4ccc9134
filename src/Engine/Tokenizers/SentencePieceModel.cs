namespace Engine.Tokenizers;

/// <summary>SentencePiece's trainer_spec.model_type.</summary>
internal enum SentencePieceModelType
{
    Unigram = 1,
    Bpe = 2,
    Word = 3,
    Char = 4,
}

/// <summary>One vocabulary entry of a SentencePiece model.</summary>
internal readonly record struct SentencePieceEntry(string Piece, float Score, TokenKind Kind);

/// <summary>The parts of a SentencePiece <c>ModelProto</c> (tokenizer.model) that encoding and export need.
/// Defaults are the proto's declared defaults, used when the file omits a field.</summary>
internal sealed class SentencePieceModel
{
    public required IReadOnlyList<SentencePieceEntry> Pieces { get; init; }
    public SentencePieceModelType ModelType { get; init; } = SentencePieceModelType.Unigram;
    public int UnkId { get; init; } = 0;
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;
    /// <summary>-1 when the model has no padding piece.</summary>
    public int PadId { get; init; } = -1;
    public bool ByteFallback { get; init; }
    public bool TreatWhitespaceAsSuffix { get; init; }
    /// <summary>normalizer_spec.name; "identity" for Llama models. Null when the file has no normalizer_spec.name.</summary>
    public string? NormalizerName { get; init; }
    /// <summary>Size of normalizer_spec.precompiled_charsmap; non-zero means a character normalization table is in use.</summary>
    public int PrecompiledCharsmapLength { get; init; }
    public bool AddDummyPrefix { get; init; } = true;
    public bool RemoveExtraWhitespaces { get; init; } = true;
    public bool EscapeWhitespaces { get; init; } = true;

    /// <summary>Reads and parses a tokenizer.model file.</summary>
    public static SentencePieceModel Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileFormatException(path, "tokenizer.model", $"cannot read the file: {e.Message}", e);
        }
        return SentencePieceModelReader.Parse(bytes, path);
    }
}
