namespace Engine.Tokenizers;

/// <summary>A SentencePiece BPE tokenizer.model (Llama 1/2, TinyLlama, llama2.c's tok*.model).</summary>
/// <remarks>Encoding uses this project's <see cref="BpeEncoder"/>, not Microsoft.ML.Tokenizers' LlamaTokenizer:
/// ML.Tokenizers 2.0.1 disagrees with SentencePiece on 2 of llama.cpp's 46 Llama-2 reference strings (for "!!!!!!" it
/// gives 1738 21004 6824 where SentencePiece gives 1738 6824 21004).</remarks>
internal sealed class SentencePieceTokenizer : VocabularyTokenizer
{
    private SentencePieceTokenizer(SentencePieceModel model, TokenVocabulary vocab) : base(vocab) => Model = model;

    /// <summary>The parsed ModelProto (pieces, scores, types, special ids, normalizer flags), e.g. for GGUF export.</summary>
    public SentencePieceModel Model { get; }

    public static SentencePieceTokenizer Load(string path) => FromModel(SentencePieceModel.Load(path), path);

    /// <param name="source">The file the model came from, for error messages.</param>
    public static SentencePieceTokenizer FromModel(SentencePieceModel model, string source)
    {
        if (model.ModelType != SentencePieceModelType.Bpe)
            throw new FileFormatException(source, "trainer_spec.model_type",
                $"{model.ModelType} ({(int)model.ModelType}) is not supported; only BPE (2), the Llama tokenizer type");
        if (model.TreatWhitespaceAsSuffix)
            throw new FileFormatException(source, "trainer_spec.treat_whitespace_as_suffix", "true is not supported");
        if (!model.EscapeWhitespaces)
            throw new FileFormatException(source, "normalizer_spec.escape_whitespaces", "false is not supported");
        if (model.PrecompiledCharsmapLength > 0 || (model.NormalizerName is not null && model.NormalizerName != "identity"))
            throw new FileFormatException(source, "normalizer_spec",
                $"normalizer \"{model.NormalizerName}\" with a {model.PrecompiledCharsmapLength}-byte charsmap is not supported; only \"identity\" (Llama)");

        int n = model.Pieces.Count;
        var pieces = new string[n];
        var scores = new float[n];
        var kinds = new TokenKind[n];
        for (int i = 0; i < n; i++) (pieces[i], scores[i], kinds[i]) = model.Pieces[i];
        var vocab = new TokenVocabulary(source, pieces, scores, kinds, model.UnkId, model.BosId, model.EosId, model.PadId,
            model.AddDummyPrefix, model.RemoveExtraWhitespaces, model.ByteFallback);
        return new SentencePieceTokenizer(model, vocab);
    }
}
