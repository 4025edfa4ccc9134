namespace Engine.Tokenizers;

/// <summary>Opens a tokenizer by file: a SentencePiece tokenizer.model, a llama2.c tokenizer.bin, or a folder holding
/// one of them (tokenizer.model preferred).</summary>
internal static class TokenizerLoader
{
    /// <param name="path">A *.model or *.bin file, or a folder containing tokenizer.model or tokenizer.bin.</param>
    /// <param name="vocabSize">The model's vocab_size; when given, a tokenizer of another size is an error.</param>
    public static VocabularyTokenizer Load(string path, int? vocabSize = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = ResolveFile(path);
        VocabularyTokenizer tokenizer = Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".model" => SentencePieceTokenizer.Load(file),
            ".bin" => Llama2cTokenizer.Load(file, vocabSize),
            ".json" => throw new FileFormatException(file, "tokenizer",
                "Hugging Face tokenizer.json is not supported; use the model's SentencePiece tokenizer.model"),
            _ => throw new FileFormatException(file, "tokenizer",
                "unknown tokenizer file type; expected a SentencePiece *.model or a llama2.c *.bin"),
        };
        if (vocabSize is int expected && tokenizer.VocabSize != expected)
            throw new FileFormatException(file, "vocabulary size",
                $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {expected}");
        return tokenizer;
    }

    private static string ResolveFile(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path)) throw new FileFormatException(path, "tokenizer", "no such file or folder");
        foreach (var name in new[] { "tokenizer.model", "tokenizer.bin" })
        {
            string candidate = Path.Combine(path, name);
            if (File.Exists(candidate)) return candidate;
        }
        string hint = File.Exists(Path.Combine(path, "tokenizer.json"))
            ? " (it has a tokenizer.json, which is not supported)" : "";
        throw new FileFormatException(path, "tokenizer", $"folder holds neither tokenizer.model nor tokenizer.bin{hint}");
    }
}
