namespace Engine.Tokenizers;

/// <summary>Opens a tokenizer by file: a Hugging Face tokenizer.json (with the tokenizer_config.json beside it), a
/// SentencePiece tokenizer.model, a llama2.c tokenizer.bin, or a folder holding one of them. In a folder,
/// tokenizer.json is preferred over tokenizer.model, as HF AutoTokenizer prefers the fast tokenizer; then
/// tokenizer.model, then tokenizer.bin.</summary>
internal static class TokenizerLoader
{
    /// <summary>The file names looked for in a folder, in order of preference.</summary>
    public static readonly string[] FolderFiles = ["tokenizer.json", "tokenizer.model", "tokenizer.bin"];

    /// <param name="path">A tokenizer.json, *.model or *.bin file, or a folder containing one of <see cref="FolderFiles"/>.</param>
    /// <param name="vocabSize">The model's vocab_size; when given, a SentencePiece or llama2.c tokenizer of another size
    /// is an error, and so is an HF tokenizer with more tokens (HF models often pad vocab_size beyond the tokenizer:
    /// Qwen 3 has 151,669 tokens for 151,936 embedding rows).</param>
    public static ITokenizer Load(string path, int? vocabSize = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string file = ResolveFile(path);
        ITokenizer tokenizer = Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".json" => HfTokenizerFile.Load(file),
            ".model" => SentencePieceTokenizer.Load(file),
            ".bin" => Llama2cTokenizer.Load(file, vocabSize),
            _ => throw new FileFormatException(file, "tokenizer",
                "unknown tokenizer file type; expected a Hugging Face tokenizer.json, a SentencePiece *.model or a llama2.c *.bin"),
        };
        if (vocabSize is int expected)
        {
            if (tokenizer is HfTokenizer)
            {
                if (tokenizer.VocabSize > expected)
                    throw new FileFormatException(file, "vocabulary size",
                        $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is only {expected}");
            }
            else if (tokenizer.VocabSize != expected)
                throw new FileFormatException(file, "vocabulary size",
                    $"tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {expected}");
        }
        return tokenizer;
    }

    private static string ResolveFile(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path)) throw new FileFormatException(path, "tokenizer", "no such file or folder");
        foreach (var name in FolderFiles)
        {
            string candidate = Path.Combine(path, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileFormatException(path, "tokenizer", "folder holds none of tokenizer.json, tokenizer.model, tokenizer.bin");
    }
}
