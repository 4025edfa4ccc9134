using System.Buffers;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>A Hugging Face tokenizer.json tokenizer (BPE model: Llama 3, Qwen 2/3, Mistral, GPT-2 style) giving the
/// ids of HF `tokenizers`: added tokens are split out first (longest match, special ones only inside the caller's
/// special ranges), each part between them is normalized, pre-tokenized and encoded by the BPE model. Also built from
/// GGUF "gpt2" vocabularies (<see cref="GgufVocabTokenizer.CreateBpe"/>). <see cref="Score"/> is 0 for every token
/// (the order of merges, not scores, drives BPE here).</summary>
internal sealed class HfTokenizer : ITokenizer
{
    private readonly HfNormalizer? _normalizer;
    private readonly HfPreTokenizer? _preTokenizer;
    private readonly HfDecoder _decoder;
    private readonly string[] _pieces;
    private readonly TokenKind[] _kinds;
    private readonly bool[] _skipInDecode;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly Dictionary<char, HfAddedToken[]> _addedByFirstChar;

    public HfTokenizer(string source, HfBpeModel model, HfNormalizer? normalizer, HfPreTokenizer? preTokenizer,
        HfDecoder decoder, IReadOnlyList<HfAddedToken> added, HfSpecialIds ids, string? chatTemplate)
    {
        Source = source;
        Model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoder = decoder;
        ChatTemplate = chatTemplate;
        AddedTokens = added;

        int count = 0;
        foreach (var id in model.Vocab.Values) count = Math.Max(count, id + 1);
        foreach (var a in added) count = Math.Max(count, a.Id + 1);
        _pieces = new string[count];
        _kinds = new TokenKind[count];
        _skipInDecode = new bool[count];
        foreach (var (piece, id) in model.Vocab)
        {
            if (_pieces[id] is not null) throw new FileFormatException(source, "model.vocab", $"id {id} is given to both \"{_pieces[id]}\" and \"{piece}\"");
            _pieces[id] = piece;
            _kinds[id] = model.ByteFallback && TokenVocabulary.TryParseBytePiece(piece, out _) ? TokenKind.Byte : TokenKind.Normal;
        }
        _pieceToId = new Dictionary<string, int>(model.Vocab, StringComparer.Ordinal);
        foreach (var a in added)
        {
            if (_pieces[a.Id] is string p && p != a.Content)
                throw new FileFormatException(source, "added_tokens", $"id {a.Id} is \"{a.Content}\" but the model's vocabulary has \"{p}\" there");
            _pieces[a.Id] = a.Content;
            _kinds[a.Id] = a.Special ? TokenKind.Control : TokenKind.UserDefined;
            _skipInDecode[a.Id] = a.Special;
            _pieceToId[a.Content] = a.Id;
        }
        for (int i = 0; i < count; i++)
            if (_pieces[i] is null) throw new FileFormatException(source, "vocabulary", $"id {i} has no token (ids must run 0..{count - 1} without gaps)");
        _addedByFirstChar = added.Where(a => a.Content.Length > 0).GroupBy(a => a.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(a => a.Content.Length).ToArray());

        BosId = ids.Bos;
        EosId = ids.Eos;
        PadId = ids.Pad;
        UnkId = ids.Unk;
        if (UnkId >= 0) _kinds[UnkId] = TokenKind.Unknown;
        AddBos = ids.AddBos;
        AddEos = ids.AddEos;
        foreach (var (what, id) in new[] { ("bos", BosId), ("eos", EosId), ("pad", PadId), ("unk", UnkId) })
            if (id >= count) throw new FileFormatException(source, $"{what} token", $"id {id} is outside the vocabulary 0..{count - 1}");
        if (AddBos && BosId < 0) throw new FileFormatException(source, "add_bos_token", "is true but there is no bos_token");
        if (AddEos && EosId < 0) throw new FileFormatException(source, "add_eos_token", "is true but there is no eos_token");
    }

    /// <summary>The file the tokenizer came from, for messages.</summary>
    public string Source { get; }
    public HfBpeModel Model { get; }
    public IReadOnlyList<HfAddedToken> AddedTokens { get; }
    /// <summary>tokenizer_config.json's chat_template when it is a string, else null.</summary>
    public string? ChatTemplate { get; }
    /// <summary>The regex of the pre-tokenizer's first Split (GGUF export names it), or null.</summary>
    public string? SplitPattern => _preTokenizer?.SplitPattern;
    /// <summary>A GPT-2 style byte-level tokenizer (byte-level pre-tokenizer and decoder).</summary>
    public bool IsByteLevel => _preTokenizer?.IsByteLevel == true && _decoder.IsByteLevel;
    public bool HasNormalizer => _normalizer is not null;

    public int VocabSize => _pieces.Length;
    public int BosId { get; }
    public int EosId { get; }
    public int UnkId { get; }
    public int PadId { get; }
    public bool AddBos { get; }
    public bool AddEos { get; }

    public int[] Encode(string text)
    {
        var spans = EncodeWithSpans(text, null);
        var ids = new int[spans.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = spans[i].Id;
        return ids;
    }

    public TokenSpan[] EncodeWithSpans(string text) => EncodeWithSpans(text, null);

    public TokenSpan[] EncodeWithSpans(string text, IReadOnlyList<TextRange>? specialRanges)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<TokenSpan>(text.Length / 3 + 4);
        var pieces = new List<HfPreToken>();
        int from = 0, range = 0;
        for (int pos = 0; pos < text.Length;)
        {
            if (!_addedByFirstChar.TryGetValue(text[pos], out var candidates)) { pos++; continue; }
            var match = Match(text, pos, candidates, specialRanges, ref range);
            if (match is null) { pos++; continue; }
            int start = pos, end = pos + match.Content.Length;
            if (match.LStrip) while (start > from && char.IsWhiteSpace(text[start - 1])) start--;
            if (match.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
            EncodeSegment(text, from, start, output, pieces);
            output.Add(new TokenSpan(match.Id, start, end - start));
            from = pos = end;
        }
        EncodeSegment(text, from, text.Length, output, pieces);
        return output.ToArray();
    }

    /// <summary>The longest added token at <paramref name="pos"/> that may match there.</summary>
    private static HfAddedToken? Match(string text, int pos, HfAddedToken[] candidates, IReadOnlyList<TextRange>? ranges, ref int range)
    {
        foreach (var a in candidates)
        {
            int len = a.Content.Length;
            if (len > text.Length - pos || string.CompareOrdinal(text, pos, a.Content, 0, len) != 0) continue;
            if (a.Special && !InRanges(ranges, pos, len, ref range)) continue;
            if (a.SingleWord && (pos > 0 && IsWordChar(text[pos - 1]) || pos + len < text.Length && IsWordChar(text[pos + len]))) continue;
            return a;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>Whether [pos, pos+len) lies inside one of the sorted ranges; <paramref name="range"/> is where to start
    /// looking (positions only grow during one encode).</summary>
    private static bool InRanges(IReadOnlyList<TextRange>? ranges, int pos, int len, ref int range)
    {
        if (ranges is null) return false;
        while (range < ranges.Count && ranges[range].End <= pos) range++;
        return range < ranges.Count && ranges[range].Contains(pos, len);
    }

    private void EncodeSegment(string text, int from, int to, List<TokenSpan> output, List<HfPreToken> pieces)
    {
        if (to <= from) return;
        var seg = HfNormalizedText.Of(text, from, to - from);
        if (_normalizer is not null) seg = _normalizer.Apply(seg);
        if (seg.Text.Length == 0) return;
        pieces.Clear();
        pieces.Add(new HfPreToken(seg.Text, 0, null));
        _preTokenizer?.Apply(pieces, atInputStart: from == 0);
        foreach (var piece in pieces)
        {
            var tokens = Model.Encode(piece.Text);
            for (int t = 0; t < tokens.Length; t += 3)
            {
                int first = -1, last = -1;
                for (int k = tokens[t + 1]; k < tokens[t + 2]; k++)
                {
                    int s = piece.SourceOf(k);
                    if (s < 0) continue;
                    if (first < 0) first = s;
                    last = s;
                }
                if (first >= 0)
                {
                    int start = seg.StartOf(first), end = seg.EndOf(last);
                    output.Add(new TokenSpan(tokens[t], Math.Min(start, end), Math.Abs(end - start)));
                }
                else output.Add(new TokenSpan(tokens[t], NextSource(piece, seg, tokens[t + 2], to), 0));
            }
        }
    }

    /// <summary>Where an inserted-only token sits: at the input position of the next char that has one.</summary>
    private static int NextSource(HfPreToken piece, HfNormalizedText seg, int from, int fallback)
    {
        for (int k = from; k < piece.Text.Length; k++)
            if (piece.SourceOf(k) is int s and >= 0) return seg.StartOf(s);
        return fallback;
    }

    public string Decode(IReadOnlyList<int> ids) => TokenDecoding.Decode(this, ids);

    /// <summary>Special added tokens add nothing (HF's skip_special_tokens); other tokens their decoder bytes.</summary>
    public void AppendDecodedBytes(int id, ref bool atStart, IBufferWriter<byte> output)
    {
        CheckId(id);
        if (_skipInDecode[id]) return;
        int strip = atStart ? _decoder.StripAtStart : 0;
        if (_decoder.Append(_pieces[id], ref strip, output) > 0) atStart = false;
    }

    public string IdToPiece(int id)
    {
        CheckId(id);
        return _pieces[id];
    }

    public int PieceToId(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        return _pieceToId.TryGetValue(piece, out int id) ? id : -1;
    }

    public float Score(int id)
    {
        CheckId(id);
        return 0f;
    }

    public TokenKind Kind(int id)
    {
        CheckId(id);
        return _kinds[id];
    }

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)_pieces.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary 0..{_pieces.Length - 1}");
    }
}

/// <summary>The special ids of an HF tokenizer (-1 for none) and whether encoding with special tokens adds BOS/EOS.</summary>
internal readonly record struct HfSpecialIds(int Bos, int Eos, int Pad, int Unk, bool AddBos, bool AddEos);
