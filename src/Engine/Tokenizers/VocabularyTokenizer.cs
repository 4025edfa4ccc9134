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

    private List<TokenSpan> EncodeToList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<TokenSpan>(text.Length / 3 + 4);
        _encoder.Encode(text, output);
        return output;
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new ArrayBufferWriter<byte>(ids.Count * 4 + 16);
        bool atStart = true;
        for (int i = 0; i < ids.Count; i++) PieceBytes.Append(this, ids[i], AddDummyPrefix, ref atStart, bytes);
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>A streaming decoder for this tokenizer (see <see cref="TokenStreamDecoder"/>).</summary>
    public TokenStreamDecoder CreateStreamDecoder() => new(this, AddDummyPrefix);

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
