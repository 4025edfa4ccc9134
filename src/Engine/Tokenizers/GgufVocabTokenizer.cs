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
}
