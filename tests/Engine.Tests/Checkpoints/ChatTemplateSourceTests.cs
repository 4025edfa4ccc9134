using System.Text.Json;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>Where a model's chat template is found (HF's rules: chat_template.jinja, else tokenizer_config.json's
/// chat_template, string or named list; GGUF tokenizer.chat_template) and how malformed entries are refused.</summary>
public class ChatTemplateSourceTests
{
    private static void Config(TempDir d, object config) => File.WriteAllText(d.File("tokenizer_config.json"), JsonSerializer.Serialize(config));

    [Fact]
    public void Tokenizer_config_string_template_with_added_token_objects()
    {
        using var d = new TempDir();
        Config(d, new { chat_template = "{{ bos_token }}x", bos_token = new { content = "<s>", lstrip = false }, eos_token = "</s>" });
        var t = ChatTemplateSource.Find(d.Path)!;
        Assert.Equal("{{ bos_token }}x", t.Text);
        Assert.Equal("<s>", t.BosToken);
        Assert.Equal("</s>", t.EosToken);
        Assert.EndsWith("tokenizer_config.json:chat_template", t.SourceName);
    }

    [Fact]
    public void Chat_template_jinja_file_comes_first_and_a_named_list_gives_default()
    {
        using var d = new TempDir();
        Config(d, new { chat_template = new object[] { new { name = "tool_use", template = "T" }, new { name = "default", template = "D" } }, eos_token = "<|im_end|>" });
        Assert.Equal("D", ChatTemplateSource.Find(d.Path)!.Text);
        File.WriteAllText(d.File("chat_template.jinja"), "J");
        var t = ChatTemplateSource.Find(d.File("model.gguf.missing-is-fine"), null);
        Assert.Equal("J", t!.Text);
        Assert.Equal("<|im_end|>", t.EosToken);
    }

    [Fact]
    public void No_template_is_null()
    {
        using var d = new TempDir();
        Assert.Null(ChatTemplateSource.Find(d.Path));
        Config(d, new { eos_token = "</s>", chat_template = (string?)null });
        Assert.Null(ChatTemplateSource.Find(d.Path));
    }

    [Theory]
    [InlineData("{\"chat_template\": 5}", "chat_template", "expected a string or a list of {name, template}, got 5")]
    [InlineData("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}", "chat_template", "none named \"default\"")]
    [InlineData("{\"chat_template\": [{\"name\": \"default\"}]}", "chat_template", "{\"name\": string, \"template\": string}")]
    [InlineData("{\"chat_template\": \"x\", \"eos_token\": 3}", "eos_token", "expected a string or {\"content\": string}, got 3")]
    public void Malformed_entries_are_refused_naming_file_and_field(string json, string field, string message)
    {
        using var d = new TempDir();
        File.WriteAllText(d.File("tokenizer_config.json"), json);
        var ex = Assert.Throws<FileFormatException>(() => ChatTemplateSource.Find(d.Path));
        Assert.Contains("tokenizer_config.json", ex.Message);
        Assert.Contains(field, ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Real_Qwen3_tokenizer_config()
    {
        var dir = SharedData.Require("hf-tokenizers/qwen3");
        var t = ChatTemplateSource.Find(null, Path.Combine(dir, "tokenizer.json"))!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")));
        Assert.Equal(doc.RootElement.GetProperty("chat_template").GetString(), t.Text);
        Assert.Null(t.BosToken);
        Assert.Equal("<|im_end|>", t.EosToken);
    }

    [Fact]
    public void Gguf_chat_template_and_its_bos_eos_pieces()
    {
        using var d = new TempDir();
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.AddString("tokenizer.chat_template", "{{ eos_token }}");
        w.AddArray("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>" });
        w.AddU32("tokenizer.ggml.bos_token_id", 1);
        w.AddU32("tokenizer.ggml.eos_token_id", 2);
        var path = d.File("m.gguf");
        w.Write(path);
        var t = ChatTemplateSource.Find(path)!;
        Assert.Equal("{{ eos_token }}", t.Text);
        Assert.Equal(("<s>", "</s>"), (t.BosToken, t.EosToken));
        Assert.EndsWith("m.gguf:tokenizer.chat_template", t.SourceName);
    }
}
