using System.Text;
using Engine.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>Test-only <see cref="ITokenizer"/> over Microsoft.ML.Tokenizers' Llama SentencePiece implementation, so the
/// masking can be checked against the real Llama-2 vocabulary before the engine's own tokenizer lands. Spans are
/// rebuilt from the pieces: the pieces of a chunk spell "▁" + text with spaces as "▁" (Llama's identity normalizer),
/// byte pieces of one character share that character's span, and the dummy prefix belongs to character 0.</summary>
public sealed class LlamaSentencePieceTokenizer : ITokenizer
{
    private readonly SentencePieceTokenizer _sp;
    private readonly string[] _pieces;

    public LlamaSentencePieceTokenizer(string modelPath)
    {
        using var stream = File.OpenRead(modelPath);
        _sp = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        _pieces = new string[_sp.Vocabulary.Count];
        foreach (var (piece, id) in _sp.Vocabulary) _pieces[id] = piece;
    }

    public int VocabSize => _pieces.Length;
    public int BosId => _sp.BeginningOfSentenceId;
    public int EosId => _sp.EndOfSentenceId;
    public int UnkId => _sp.UnknownId;
    public int PadId => -1;

    public int[] Encode(string text) => text.Length == 0 ? Array.Empty<int>() : _sp.EncodeToIds(text, false, false).ToArray();

    public TokenSpan[] EncodeWithSpans(string text)
    {
        var ids = Encode(text);
        if (ids.Length == 0) return Array.Empty<TokenSpan>();
        var spans = new TokenSpan[ids.Length];
        int pos = 0; // position in the normalized text "▁" + text
        var pendingBytes = new List<byte>();
        int pendingFrom = 0;
        for (int k = 0; k < ids.Length; k++)
        {
            var piece = _pieces[ids[k]];
            if (piece.Length == 6 && piece.StartsWith("<0x") && piece.EndsWith('>'))
            {
                if (pendingBytes.Count == 0) pendingFrom = k;
                pendingBytes.Add(Convert.ToByte(piece.Substring(3, 2), 16));
                var chars = Encoding.UTF8.GetString(pendingBytes.ToArray());
                if (chars.Contains('\uFFFD') && pendingBytes.Count < 4) continue;
                for (int j = pendingFrom; j <= k; j++) spans[j] = Span(ids[j], pos, chars.Length);
                pos += chars.Length;
                pendingBytes.Clear();
                continue;
            }
            spans[k] = Span(ids[k], pos, piece.Length);
            pos += piece.Length;
        }
        if (pos != text.Length + 1) throw new InvalidOperationException($"pieces spell {pos} characters, expected {text.Length + 1}");
        return spans;

        static TokenSpan Span(int id, int normStart, int normLength) =>
            normStart == 0 ? new TokenSpan(id, 0, normLength - 1) : new TokenSpan(id, normStart - 1, normLength);
    }

    public string Decode(IReadOnlyList<int> ids) => _sp.Decode(ids.Where(i => i != BosId && i != EosId)) ?? "";
    public string IdToPiece(int id) => _pieces[id];
    public int PieceToId(string piece) => _sp.Vocabulary.TryGetValue(piece, out var id) ? id : -1;
    public float Score(int id) => 0f;
    public TokenKind Kind(int id) => id == UnkId ? TokenKind.Unknown : id == BosId || id == EosId ? TokenKind.Control : TokenKind.Normal;
}
