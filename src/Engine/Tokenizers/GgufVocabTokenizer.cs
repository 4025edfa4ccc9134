namespace Engine.Tokenizers;

/// <summary>A SentencePiece-style tokenizer built from GGUF metadata (tokenizer.ggml.model = "llama"):
/// tokenizer.ggml.tokens, .scores, .token_type and the special ids. Byte fallback is on when all 256 &lt;0xXX&gt;
/// byte tokens are present, as in llama.cpp.</summary>
internal sealed class GgufVocabTokenizer : VocabularyTokenizer
{
    private GgufVocabTokenizer(TokenVocabulary vocab) : base(vocab) { }

    /// <param name="source">The GGUF file, for error messages.</param>
    /// <param name="tokenTypes">tokenizer.ggml.token_type values: 1 normal … 6 byte (<see cref="TokenKind"/>); 0
    /// (llama.cpp's "undefined") is read as normal.</param>
    /// <param name="unkId">tokenizer.ggml.unknown_token_id (llama.cpp's default is 0).</param>
    /// <param name="padId">tokenizer.ggml.padding_token_id, or -1.</param>
    /// <param name="addSpacePrefix">tokenizer.ggml.add_space_prefix (default true).</param>
    /// <param name="removeExtraWhitespaces">tokenizer.ggml.remove_extra_whitespaces (default false).</param>
    public static GgufVocabTokenizer Create(string source, IReadOnlyList<string> tokens, IReadOnlyList<float> scores,
        IReadOnlyList<int> tokenTypes, int bosId, int eosId, int unkId = 0, int padId = -1,
        bool addSpacePrefix = true, bool removeExtraWhitespaces = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(tokenTypes);
        int n = tokens.Count;
        if (scores.Count != n)
            throw new FileFormatException(source, "tokenizer.ggml.scores", $"has {scores.Count} entries, tokenizer.ggml.tokens has {n}");
        if (tokenTypes.Count != n)
            throw new FileFormatException(source, "tokenizer.ggml.token_type", $"has {tokenTypes.Count} entries, tokenizer.ggml.tokens has {n}");

        var pieces = new string[n];
        var scoreArray = new float[n];
        var kinds = new TokenKind[n];
        int byteCount = 0;
        for (int i = 0; i < n; i++)
        {
            pieces[i] = tokens[i] ?? throw new FileFormatException(source, $"tokenizer.ggml.tokens[{i}]", "is null");
            scoreArray[i] = scores[i];
            int type = tokenTypes[i];
            if (type < 0 || type > (int)TokenKind.Byte)
                throw new FileFormatException(source, $"tokenizer.ggml.token_type[{i}]", $"{type} is not one of 0..6");
            kinds[i] = type == 0 ? TokenKind.Normal : (TokenKind)type;
            if (kinds[i] == TokenKind.Byte) byteCount++;
        }
        var vocab = new TokenVocabulary(source, pieces, scoreArray, kinds, unkId, bosId, eosId, padId,
            addSpacePrefix, removeExtraWhitespaces, byteFallback: byteCount == 256);
        return new GgufVocabTokenizer(vocab);
    }

    /// <summary>A GGUF byte-level BPE vocabulary (tokenizer.ggml.model = "gpt2"): tokenizer.ggml.tokens, .token_type,
    /// .merges and .pre, as llama.cpp reads them. Control tokens become special added tokens (parsed only inside
    /// special ranges), user-defined ones non-special added tokens (matched everywhere); the others form the BPE
    /// vocabulary. No normalizer is applied (llama.cpp applies none, even for Qwen's NFC).</summary>
    /// <param name="pre">tokenizer.ggml.pre: llama-bpe/llama3, qwen2 or gpt-2; others are refused.</param>
    public static HfTokenizer CreateBpe(string source, IReadOnlyList<string> tokens, IReadOnlyList<int> tokenTypes,
        IReadOnlyList<string> merges, string pre, int bosId, int eosId, int unkId, int padId, bool addBos, bool addEos,
        string? chatTemplate = null)
    {
        int n = tokens.Count;
        if (tokenTypes.Count != n)
            throw new FileFormatException(source, "tokenizer.ggml.token_type", $"has {tokenTypes.Count} entries, tokenizer.ggml.tokens has {n}");
        string pattern = GgufPreTokenizers.PatternOf(pre) ?? throw new FileFormatException(source, "tokenizer.ggml.pre",
            $"\"{pre}\" is not supported (supported: llama-bpe, llama3, qwen2, gpt-2)");
        var vocab = new Dictionary<string, int>(n, StringComparer.Ordinal);
        var added = new List<HfAddedToken>();
        for (int i = 0; i < n; i++)
        {
            string piece = tokens[i] ?? throw new FileFormatException(source, $"tokenizer.ggml.tokens[{i}]", "is null");
            if (piece.Length == 0) throw new FileFormatException(source, $"tokenizer.ggml.tokens[{i}]", "is empty");
            switch (tokenTypes[i])
            {
                case 0 or (int)TokenKind.Normal or (int)TokenKind.Unknown or (int)TokenKind.Unused or (int)TokenKind.Byte:
                    vocab.TryAdd(piece, i);
                    break;
                case (int)TokenKind.Control:
                    added.Add(new HfAddedToken(i, piece, Special: true, false, false, false));
                    break;
                case (int)TokenKind.UserDefined:
                    added.Add(new HfAddedToken(i, piece, Special: false, false, false, false));
                    break;
                default:
                    throw new FileFormatException(source, $"tokenizer.ggml.token_type[{i}]", $"{tokenTypes[i]} is not one of 0..6");
            }
        }
        var model = HfBpeModel.FromTokens(vocab, merges, (field, message) => new FileFormatException(source, field, message),
            GgufPreTokenizers.IgnoresMerges(pre));
        var regex = new HfRegex(pattern, m => new FileFormatException(source, "tokenizer.ggml.pre", m));
        return new HfTokenizer(source, model, null, HfPreTokenizer.SplitThenByteLevel(regex), HfDecoder.ByteLevel, added,
            new HfSpecialIds(bosId, eosId, padId, unkId, addBos && bosId >= 0, addEos && eosId >= 0), chatTemplate);
    }
}
