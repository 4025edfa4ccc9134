namespace Engine.Tokenizers;

/// <summary>A SentencePiece-style vocabulary: pieces ("▁" for space), scores, kinds and special ids, with the lookups
/// the encoder needs. Built by every tokenizer format; validated here once.</summary>
internal sealed class TokenVocabulary
{
    public TokenVocabulary(string source, string[] pieces, float[] scores, TokenKind[] kinds,
        int unkId, int bosId, int eosId, int padId, bool addDummyPrefix, bool removeExtraWhitespaces, bool byteFallback)
    {
        if (pieces.Length == 0) throw new FileFormatException(source, "vocabulary", "has no tokens");
        if (scores.Length != pieces.Length || kinds.Length != pieces.Length)
            throw new FileFormatException(source, "vocabulary",
                $"{pieces.Length} pieces but {scores.Length} scores and {kinds.Length} token types");
        Source = source;
        Pieces = pieces;
        Scores = scores;
        Kinds = kinds;
        UnkId = ValidateSpecialId(source, "unk id", unkId, allowNone: false);
        BosId = ValidateSpecialId(source, "bos id", bosId, allowNone: true);
        EosId = ValidateSpecialId(source, "eos id", eosId, allowNone: true);
        PadId = ValidateSpecialId(source, "pad id", padId, allowNone: true);
        AddDummyPrefix = addDummyPrefix;
        RemoveExtraWhitespaces = removeExtraWhitespaces;

        _all = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        var matchable = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        var byteIds = new int[256];
        Array.Fill(byteIds, -1);
        int byteCount = 0;
        var userDefined = new List<string>();
        for (int i = 0; i < pieces.Length; i++)
        {
            string p = pieces[i] ?? throw new FileFormatException(source, $"token {i}", "piece is null");
            if (p.Length == 0) throw new FileFormatException(source, $"token {i}", "piece is empty");
            // First occurrence wins, as in SentencePiece and llama.cpp lookups.
            _all.TryAdd(p, i);
            switch (kinds[i])
            {
                case TokenKind.Normal or TokenKind.Unused:
                    matchable.TryAdd(p, i);
                    break;
                case TokenKind.UserDefined:
                    if (matchable.TryAdd(p, i)) userDefined.Add(p);
                    break;
                case TokenKind.Byte:
                    if (!TryParseBytePiece(p, out byte b))
                        throw new FileFormatException(source, $"token {i}", $"byte token's piece \"{p}\" is not of the form <0xXX>");
                    if (byteIds[b] < 0) { byteIds[b] = i; byteCount++; }
                    break;
                case TokenKind.Unknown or TokenKind.Control:
                    break;
                default:
                    throw new FileFormatException(source, $"token {i}", $"token type {(int)kinds[i]} is not one of 1..6");
            }
        }
        if (byteFallback)
        {
            if (byteCount != 256)
                throw new FileFormatException(source, "byte tokens", $"byte fallback needs all 256 <0xXX> pieces, found {byteCount}");
            ByteIds = byteIds;
        }
        Matchable = matchable.GetAlternateLookup<ReadOnlySpan<char>>();
        UserDefined = userDefined.Count == 0 ? null : userDefined.ToHashSet(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        MaxUserDefinedLength = userDefined.Count == 0 ? 0 : userDefined.Max(s => s.Length);
    }

    private readonly Dictionary<string, int> _all;

    /// <summary>The file or source the vocabulary came from, for error messages.</summary>
    public string Source { get; }
    public string[] Pieces { get; }
    public float[] Scores { get; }
    public TokenKind[] Kinds { get; }
    public int Count => Pieces.Length;
    public int UnkId { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }
    public bool AddDummyPrefix { get; }
    public bool RemoveExtraWhitespaces { get; }

    /// <summary>Id of each byte's &lt;0xXX&gt; piece when byte fallback is on, else null.</summary>
    public int[]? ByteIds { get; }

    /// <summary>Pieces that text can be segmented into: normal, user-defined and unused ones (as in SentencePiece; control,
    /// unknown and byte pieces are never matched from text).</summary>
    public Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> Matchable { get; }

    /// <summary>User-defined pieces, matched whole before merging; null when there are none.</summary>
    public HashSet<string>.AlternateLookup<ReadOnlySpan<char>>? UserDefined { get; }
    public int MaxUserDefinedLength { get; }

    public int PieceToId(string piece) => _all.TryGetValue(piece, out int id) ? id : -1;

    public void CheckId(int id)
    {
        if ((uint)id >= (uint)Pieces.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary 0..{Pieces.Length - 1}");
    }

    private int ValidateSpecialId(string source, string what, int id, bool allowNone)
    {
        if (allowNone && id == -1) return -1;
        if (id < 0 || id >= Pieces.Length)
            throw new FileFormatException(source, what, $"{id} is outside the vocabulary 0..{Pieces.Length - 1}{(allowNone ? " (or -1 for none)" : "")}");
        return id;
    }

    /// <summary>Parses "&lt;0xXX&gt;" (two hex digits, either case).</summary>
    public static bool TryParseBytePiece(ReadOnlySpan<char> piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>') return false;
        return byte.TryParse(piece.Slice(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }
}
