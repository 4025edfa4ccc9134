namespace Engine.Tokenizers;

/// <summary>llama.cpp's tokenizer.ggml.pre names for the byte-level BPE pre-tokenizer regexes engine reproduces, both
/// ways: a GGUF "gpt2" vocabulary names its regex, and an exported HF tokenizer is named by its Split regex.
/// llama.cpp's "default" (and the many other names) chain several regexes of their own and are refused.</summary>
internal static class GgufPreTokenizers
{
    /// <summary>Llama 3's Split regex (tokenizer.json of Llama 3.x).</summary>
    public const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen 2/3's Split regex (digits one by one).</summary>
    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The regex of a tokenizer.ggml.pre name, or null when engine does not know it.</summary>
    public static string? PatternOf(string pre) => pre switch
    {
        "llama-bpe" or "llama3" => Llama3,
        "qwen2" => Qwen2,
        "gpt-2" => HfRegex.Gpt2Pattern,
        _ => null,
    };

    /// <summary>The name to write for a Split regex, or null when llama.cpp has none engine knows to match it.</summary>
    public static string? NameOf(string pattern) => pattern switch
    {
        Llama3 => "llama-bpe",
        Qwen2 => "qwen2",
        HfRegex.Gpt2Pattern => "gpt-2",
        _ => null,
    };

    /// <summary>Whether llama.cpp applies ignore_merges for this name (it does for Llama 3, as HF's file says).</summary>
    public static bool IgnoresMerges(string pre) => pre is "llama-bpe" or "llama3";
}
