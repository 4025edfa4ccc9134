using System.Buffers;

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

/// <summary>A range of UTF-16 indices [Start, Start+Length) of a string.</summary>
internal readonly record struct TextRange(int Start, int Length)
{
    public int End => Start + Length;
    public bool Contains(int start, int length) => start >= Start && start + length <= End;
}

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

    /// <summary>Like <see cref="EncodeWithSpans(string)"/>, except that a special token's text (a control token such as
    /// "&lt;/s&gt;", an HF added token marked special such as "&lt;|eot_id|&gt;") becomes that token's id when the whole
    /// match lies inside one of <paramref name="specialRanges"/> (sorted, disjoint). Chat templates pass the ranges of
    /// text the template itself wrote, so role headers are parsed while message content stays text. Null or empty: no
    /// special token is parsed. Added tokens that are not special (Qwen's "&lt;think&gt;") are matched everywhere, as HF
    /// tokenizers do.</summary>
    TokenSpan[] EncodeWithSpans(string text, IReadOnlyList<TextRange>? specialRanges);

    /// <summary>Whether encoding "with special tokens" starts with BOS (HF post_processor / add_bos_token; SentencePiece
    /// Llama: true). False also when the vocabulary has no BOS (Qwen).</summary>
    bool AddBos { get; }

    /// <summary>Whether encoding "with special tokens" ends with EOS (add_eos_token; almost always false).</summary>
    bool AddEos { get; }

    /// <summary>Text of a sequence of ids: control tokens (BOS/EOS) are skipped, byte pieces joined into UTF-8, the dummy
    /// prefix's leading space removed.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>Appends the UTF-8 bytes that <paramref name="id"/> contributes to decoded text (nothing for tokens
    /// <see cref="Decode"/> skips). <paramref name="atStart"/> is true until the first token that produces bytes; the
    /// tokenizer uses it for its start-of-text rule (dropping the dummy prefix's space). Decode and
    /// <see cref="TokenStreamDecoder"/> both build on this, so they give the same text. The default is SentencePiece's
    /// rule (<see cref="PieceBytes"/> with the dummy prefix removed).</summary>
    void AppendDecodedBytes(int id, ref bool atStart, IBufferWriter<byte> output) =>
        PieceBytes.Append(this, id, removeDummyPrefix: true, ref atStart, output);

    /// <summary>The piece of one id as stored in the vocabulary ("▁the", "&lt;0x0A&gt;", "&lt;s&gt;").</summary>
    string IdToPiece(int id);
    /// <summary>The id of a piece, or -1.</summary>
    int PieceToId(string piece);
    float Score(int id);
    TokenKind Kind(int id);
}
