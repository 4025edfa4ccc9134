namespace Engine.Tokenizers;

/// <summary>The kind of a vocabulary entry, with GGUF's numbering (tokenizer.ggml.token_type).</summary>
internal enum TokenKind
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>A token id with the span of input text it came from (UTF-16 indices into the string passed to Encode).
/// A byte-fallback token of a multi-byte character, and the dummy-prefix space, map to the span of the character they
/// came from; Length may be 0.</summary>
internal readonly record struct TokenSpan(int Id, int Start, int Length);

/// <summary>A text tokenizer with a SentencePiece-style vocabulary (Llama family).</summary>
internal interface ITokenizer
{
    int VocabSize { get; }
    int BosId { get; }
    int EosId { get; }
    int UnkId { get; }
    /// <summary>Padding id when the vocabulary has one, else -1.</summary>
    int PadId { get; }

    /// <summary>Token ids of <paramref name="text"/> without BOS/EOS, SentencePiece semantics (dummy prefix, byte fallback).
    /// Special-token strings in the text (such as "&lt;/s&gt;") are NOT parsed: they are plain text.</summary>
    int[] Encode(string text);

    /// <summary>Like <see cref="Encode"/> with the source span of every token.</summary>
    TokenSpan[] EncodeWithSpans(string text);

    /// <summary>Text of a sequence of ids: control tokens (BOS/EOS) are skipped, byte pieces joined into UTF-8, the dummy
    /// prefix's leading space removed.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>The piece of one id as stored in the vocabulary ("▁the", "&lt;0x0A&gt;", "&lt;s&gt;").</summary>
    string IdToPiece(int id);
    /// <summary>The id of a piece, or -1.</summary>
    int PieceToId(string piece);
    float Score(int id);
    TokenKind Kind(int id);
}
