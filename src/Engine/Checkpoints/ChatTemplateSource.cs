using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Checkpoints;

/// <summary>A model's chat template text and the special-token strings its context needs.</summary>
/// <param name="Text">The Jinja source.</param>
/// <param name="SourceName">Where it came from, for messages ("…/tokenizer_config.json:chat_template").</param>
/// <param name="BosToken">tokenizer_config.json's bos_token (or the GGUF BOS piece), or null.</param>
/// <param name="EosToken">tokenizer_config.json's eos_token (or the GGUF EOS piece), or null.</param>
internal sealed record ChatTemplateText(string Text, string SourceName, string? BosToken, string? EosToken);

/// <summary>Finds a model's chat template as Hugging Face does: a <c>chat_template.jinja</c> file, else
/// <c>tokenizer_config.json</c>'s <c>chat_template</c> (a string, or a list of <c>{name, template}</c> from which the
/// one named "default" is taken), in the tokenizer's folder (when --tokenizer names a file) and then the model's;
/// a GGUF model's own <c>tokenizer.chat_template</c> comes first for GGUF files. <c>bos_token</c>/<c>eos_token</c>
/// may be strings or added-token objects (<c>{"content": ...}</c>).</summary>
internal static class ChatTemplateSource
{
    public const string JinjaFile = "chat_template.jinja";
    public const string ConfigFile = "tokenizer_config.json";

    /// <summary>The template of the model at <paramref name="modelPath"/> (HF folder, GGUF or llama2.c file), or
    /// null when it has none.</summary>
    public static ChatTemplateText? Find(string? modelPath, string? tokenizerPath = null)
    {
        if (modelPath is not null && File.Exists(modelPath) && ModelLoader.Detect(modelPath) == ModelFormat.Gguf
            && FromGguf(modelPath) is { } g)
            return g;
        var folders = new List<string>();
        if (tokenizerPath is not null) folders.Add(Directory.Exists(tokenizerPath) ? tokenizerPath : Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!);
        if (modelPath is not null) folders.Add(Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
        foreach (var dir in folders.Distinct())
            if (FromFolder(dir) is { } t) return t;
        return null;
    }

    /// <summary>chat_template.jinja or tokenizer_config.json's chat_template in <paramref name="dir"/>, or null.</summary>
    public static ChatTemplateText? FromFolder(string dir)
    {
        var configPath = Path.Combine(dir, ConfigFile);
        JsonObject? config = File.Exists(configPath) ? JsonText.ReadObject(configPath, ConfigFile) : null;
        string? bos = config is null ? null : TokenString(config, "bos_token", configPath);
        string? eos = config is null ? null : TokenString(config, "eos_token", configPath);
        var jinja = Path.Combine(dir, JinjaFile);
        if (File.Exists(jinja)) return new ChatTemplateText(File.ReadAllText(jinja), jinja, bos, eos);
        if (config is null || config["chat_template"] is not { } node || node.GetValueKind() == JsonValueKind.Null) return null;
        return new ChatTemplateText(TemplateString(node, configPath), configPath + ":chat_template", bos, eos);
    }

    private static string TemplateString(JsonNode node, string path)
    {
        switch (node.GetValueKind())
        {
            case JsonValueKind.String: return node.GetValue<string>();
            case JsonValueKind.Array:
                foreach (var item in node.AsArray())
                {
                    if (item is not JsonObject o || o["name"]?.GetValueKind() != JsonValueKind.String || o["template"]?.GetValueKind() != JsonValueKind.String)
                        throw new FileFormatException(path, "chat_template", "expected every entry of the list to be {\"name\": string, \"template\": string}");
                    if (o["name"]!.GetValue<string>() == "default") return o["template"]!.GetValue<string>();
                }
                throw new FileFormatException(path, "chat_template", "is a list of named templates with none named \"default\"");
            default:
                throw new FileFormatException(path, "chat_template", $"expected a string or a list of {{name, template}}, got {node.ToJsonString()}");
        }
    }

    /// <summary>A special token given as a string or as an added-token object with "content"; null when absent.</summary>
    private static string? TokenString(JsonObject config, string key, string path)
    {
        var n = config[key];
        if (n is null || n.GetValueKind() == JsonValueKind.Null) return null;
        if (n.GetValueKind() == JsonValueKind.String) return n.GetValue<string>();
        if (n is JsonObject o && o["content"]?.GetValueKind() == JsonValueKind.String) return o["content"]!.GetValue<string>();
        throw new FileFormatException(path, key, $"expected a string or {{\"content\": string}}, got {n.ToJsonString()}");
    }

    private static ChatTemplateText? FromGguf(string path)
    {
        using var g = GgufFile.Open(path);
        if (!g.TryGet("tokenizer.chat_template", out _)) return null;
        if (!g.TryGet<string>("tokenizer.chat_template", out var text))
            throw new FileFormatException(path, "tokenizer.chat_template", "expected a string");
        string? Piece(string key)
        {
            if (!g.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens) || !g.TryGet(key, out var v)) return null;
            if (!v.TryAsInteger(out var id)) throw new FileFormatException(path, key, "expected an integer token id");
            return id >= 0 && id < tokens.Length ? tokens[id] : throw new FileFormatException(path, key, $"is not a token id below {tokens.Length}");
        }
        return new ChatTemplateText(text, path + ":tokenizer.chat_template", Piece("tokenizer.ggml.bos_token_id"), Piece("tokenizer.ggml.eos_token_id"));
    }
}
