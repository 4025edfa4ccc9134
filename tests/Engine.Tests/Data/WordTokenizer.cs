using Engine.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>A deterministic stand-in for a SentencePiece tokenizer: one token per space-separated word, with
/// SentencePiece's habits that matter for masking: a dummy prefix space before the text ("Hi" → "▁Hi"), a space attached
/// to the word after it (" Hi" → "▁Hi"), a space not followed by a word is a lone "▁", and "\n" is the byte piece
/// "&lt;0x0A&gt;" (no space attaches across it). Ids 0/1/2 are &lt;unk&gt;/&lt;s&gt;/&lt;/s&gt;; other pieces get the
/// next free id the first time they are seen, so ids depend on call order but pieces do not.
/// Special tokens (BOS, EOS and <c>specials</c>, ids 1, 2, 3, ...) are matched only inside the special ranges given to
/// <see cref="EncodeWithSpans(string, IReadOnlyList{TextRange})"/>, the text between them encoded on its own (its own
/// dummy prefix), as the SentencePiece tokenizer does; the same string as text becomes a word of its own id.
/// <c>hasBos: false</c> is a Qwen-like vocabulary: no BOS (BosId −1, AddBos false).</summary>
internal sealed class WordTokenizer : ITokenizer
{
    private readonly List<string> _pieces = new() { "<unk>" };
    private readonly Dictionary<string, int> _ids = new() { ["<unk>"] = 0 };
    private readonly Dictionary<string, int> _special = new();
    private readonly bool _hasBos;

    public WordTokenizer(int padId = -1, string bos = "<s>", string eos = "</s>", IReadOnlyList<string>? specials = null, bool hasBos = true)
    {
        PadId = padId;
        _hasBos = hasBos;
        foreach (var sp in new[] { bos, eos }.Concat(specials ?? []))
        {
            _special[sp] = _pieces.Count;
            _pieces.Add(sp);
        }
    }

    public int VocabSize => _pieces.Count;
    public int BosId => _hasBos ? 1 : -1;
    public int EosId => 2;
    public int UnkId => 0;
    public int PadId { get; }

    public bool AddBos => _hasBos;
    public bool AddEos => false;

    public TokenSpan[] EncodeWithSpans(string text, IReadOnlyList<TextRange>? specialRanges)
    {
        if (specialRanges is null || specialRanges.Count == 0) return EncodeWithSpans(text);
        var tokens = new List<TokenSpan>();
        int partStart = 0, i = 0;
        while (i < text.Length)
        {
            var match = _special.Keys.Where(sp => string.CompareOrdinal(text, i, sp, 0, sp.Length) == 0 && specialRanges.Any(r => r.Contains(i, sp.Length)))
                .OrderByDescending(sp => sp.Length).FirstOrDefault();
            if (match is null) { i++; continue; }
            Part(partStart, i);
            tokens.Add(new TokenSpan(_special[match], i, match.Length));
            i += match.Length;
            partStart = i;
        }
        Part(partStart, text.Length);
        return tokens.ToArray();

        void Part(int start, int end)
        {
            if (end > start) tokens.AddRange(EncodeWithSpans(text[start..end]).Select(t => t with { Start = t.Start + start }));
        }
    }

    public int[] Encode(string text) => EncodeWithSpans(text).Select(t => t.Id).ToArray();

    public TokenSpan[] EncodeWithSpans(string text)
    {
        var tokens = new List<TokenSpan>();
        if (text.Length == 0) return tokens.ToArray();
        // The pending space: -1 = the dummy prefix (maps to character 0 with length 0), else its index in text.
        bool pending = true;
        int pendingAt = -1;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == ' ')
            {
                if (pending) tokens.Add(LoneSpace(pendingAt));
                pending = true;
                pendingAt = i++;
                continue;
            }
            if (c == '\n')
            {
                if (pending) tokens.Add(LoneSpace(pendingAt));
                pending = false;
                tokens.Add(new TokenSpan(Id("<0x0A>"), i++, 1));
                continue;
            }
            int j = i;
            while (j < text.Length && text[j] is not (' ' or '\n')) j++;
            var word = text[i..j];
            if (!pending) tokens.Add(new TokenSpan(Id(word), i, j - i));
            else if (pendingAt < 0) tokens.Add(new TokenSpan(Id("▁" + word), i, j - i));
            else tokens.Add(new TokenSpan(Id("▁" + word), pendingAt, j - pendingAt));
            pending = false;
            i = j;
        }
        if (pending) tokens.Add(LoneSpace(pendingAt));
        return tokens.ToArray();

        TokenSpan LoneSpace(int at) => at < 0 ? new TokenSpan(Id("▁"), 0, 0) : new TokenSpan(Id("▁"), at, 1);
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var s = string.Concat(ids.Where(id => !_special.ContainsValue(id)).Select(id => _pieces[id] == "<0x0A>" ? "\n" : _pieces[id].Replace('▁', ' ')));
        return s.StartsWith(' ') ? s[1..] : s;
    }

    public string IdToPiece(int id) => id >= 0 && id < _pieces.Count ? _pieces[id] : throw new ArgumentOutOfRangeException(nameof(id));
    public int PieceToId(string piece) => _special.TryGetValue(piece, out var sid) ? sid : _ids.TryGetValue(piece, out var id) ? id : -1;
    public float Score(int id) => 0f;
    public TokenKind Kind(int id) =>
        id == 0 ? TokenKind.Unknown
        : _special.ContainsValue(id) ? TokenKind.Control
        : _pieces[id] == "<0x0A>" ? TokenKind.Byte : TokenKind.Normal;

    private int Id(string piece)
    {
        if (_ids.TryGetValue(piece, out var id)) return id;
        _pieces.Add(piece);
        return _ids[piece] = _pieces.Count - 1;
    }
}
