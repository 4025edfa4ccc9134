using System.CommandLine;

namespace Engine.Cli;

/// <summary>Options shared by several verbs.</summary>
public static class CommonOptions
{
    public static readonly Option<string> Device = new("--device")
    {
        Description = "cpu | cuda | cuda:N | auto (CUDA when a usable GPU is present)",
        DefaultValueFactory = _ => "auto",
        Recursive = true,
    };

    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "print stack traces on errors",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json") { Description = "print one JSON object instead of text" };

    public static Option<string> Model(bool required = true) => new("--model")
    {
        Description = "model: an HF folder (config.json + safetensors), a llama2.c .bin checkpoint or a .gguf file",
        Required = required,
    };

    public static Option<string?> Tokenizer() => new("--tokenizer")
    {
        Description = "an HF tokenizer.json (tokenizer_config.json beside it is read too), a SentencePiece tokenizer.model or a llama2.c tokenizer.bin; default: found next to the model (tokenizer.json first, as HF does)",
    };

    public static Option<string?> Adapter(string description) => new("--adapter") { Description = description };
}
