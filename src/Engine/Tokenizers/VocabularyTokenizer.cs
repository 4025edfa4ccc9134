using System.Buffers;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>The shared implementation of <see cref="ITokenizer"/> for SentencePiece-style BPE vocabularies; the
/// tokenizer.model, llama2.c tokenizer.bin and GGUF tokenizers differ only in how they load the vocabulary.</summary>
internal abstract class VocabularyTokenizer : ITokenizer
{
    private readonly TokenVocabulary _vocab;
    private readonly BpeEncoder _encoder;

    private protected VocabularyTokenizer(TokenVocabulary vocab)
    {
        _vocab = vocab;
        _encoder = new BpeEncoder(vocab);
    }

    public int VocabSize => _vocab.Count;
    public int BosId => _vocab.BosId;
    public int EosId => _vocab.EosId;
    public int UnkId => _vocab.UnkId;
    public int PadId => _vocab.PadId;

    /// <summary>Whether encoding prepends '▁' to non-empty text (and decoding removes it).</summary>
    public bool AddDummyPrefix => _vocab.AddDummyPrefix;

    /// <summary>Whether encoding drops leading/trailing spaces and collapses runs of spaces.</summary>
    public bool RemoveExtraWhitespaces => _vocab.RemoveExtraWhitespaces;

    /// <summary>Whether characters without a piece become &lt;0xXX&gt; byte tokens (else the unk token).</summary>
    public bool ByteFallback => _vocab.ByteIds is not null;

    public int[] Encode(string text)
    {
        var spans = EncodeToList(text);
        var ids = new int[spans.Count];
        for (int i = 0; i < ids.Length; i++) ids[i] = spans[i].Id;
        return ids;
    }

    public TokenSpan[] EncodeWithSpans(string text) => EncodeToList(text).ToArray();

    public bool AddBos => BosId >= 0;
    public bool AddEos => false;

    /// <summary>Control pieces (BOS, EOS, "&lt;|im_start|&gt;" stored as control) are matched, longest first, inside
    /// <paramref name="specialRanges"/>; the text between them is encoded on its own (each part gets the dummy prefix),
    /// which is what HF's legacy Llama tokenizer does with the text between special tokens.</summary>
    public TokenSpan[] EncodeWithSpans(string text, IReadOnlyList<TextRange>? specialRanges)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (specialRanges is null || specialRanges.Count == 0) return EncodeWithSpans(text);
        var output = new List<TokenSpan>(text.Length / 3 + 4);
        var part = new List<TokenSpan>();
        int from = 0;
        foreach (var range in specialRanges)
        {
            for (int pos = Math.Max(range.Start, from); pos < range.End;)
            {
                var (id, length) = MatchControl(text, pos, range.End);
                if (id < 0) { pos++; continue; }
                EncodePart(from, pos);
                output.Add(new TokenSpan(id, pos, length));
                pos += length;
                from = pos;
            }
        }
        EncodePart(from, text.Length);
        return output.ToArray();

        void EncodePart(int start, int end)
        {
            if (end <= start) return;
            part.Clear();
            _encoder.Encode(text[start..end], part);
            foreach (var t in part) output.Add(t with { Start = t.Start + start });
        }
    }

    /// <summary>The longest control piece at <paramref name="pos"/> ending by <paramref name="end"/>, or (-1, 0).</summary>
    private (int Id, int Length) MatchControl(string text, int pos, int end)
    {
        _controls ??= Enumerable.Range(0, _vocab.Count).Where(i => _vocab.Kinds[i] == TokenKind.Control)
            .Select(i => (_vocab.Pieces[i], i)).OrderByDescending(p => p.Item1.Length).ToArray();
        foreach (var (piece, id) in _controls)
            if (piece.Length <= end - pos && string.CompareOrdinal(text, pos, piece, 0, piece.Length) == 0) return (id, piece.Length);
        return (-1, 0);
    }

    private (string Piece, int Id)[]? _controls;

    private List<TokenSpan> EncodeToList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<TokenSpan>(text.Length / 3 + 4);
        _encoder.Encode(text, output);
        return output;
    }

    public string Decode(IReadOnlyList<int> ids) => TokenDecoding.Decode(this, ids);

    public void AppendDecodedBytes(int id, ref bool atStart, IBufferWriter<byte> output) =>
        PieceBytes.Append(this, id, AddDummyPrefix, ref atStart, output);

    /// <summary>A streaming decoder for this tokenizer (see <see cref="TokenStreamDecoder"/>).</summary>
    public TokenStreamDecoder CreateStreamDecoder() => new(this);

    public string IdToPiece(int id)
    {
        _vocab.CheckId(id);
        return _vocab.Pieces[id];
    }

    public int PieceToId(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        return _vocab.PieceToId(piece);
    }

    public float Score(int id)
    {
        _vocab.CheckId(id);
        return _vocab.Scores[id];
    }

    public TokenKind Kind(int id)
    {
        _vocab.CheckId(id);
        return _vocab.Kinds[id];
    }
}
