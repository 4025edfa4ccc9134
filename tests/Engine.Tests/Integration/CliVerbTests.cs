using System.Text.Json;
using Engine.Tests.Support;

namespace Engine.Tests.Integration;

/// <summary>The smaller verbs through the real command line.</summary>
public class CliVerbTests
{
    [Fact]
    public void Tokenize_json_gives_ids_without_bos()
    {
        var (exit, output, err) = CliHarness.Run("tokenize", "--tokenizer", SharedData.Require("stories260K/tok512.model"), "--text", "Once upon a time", "--json");
        Assert.True(exit == 0, err);
        var ids = JsonDocument.Parse(output).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
        Assert.Equal(new[] { 403, 407, 261, 378 }, ids);
    }

    [Fact]
    public void Data_preview_marks_the_learned_tokens()
    {
        var (exit, output, err) = CliHarness.Run("data", "preview", "--data", SharedData.Require("datasets/fastchat_dummy_conversation.json"),
            "--tokenizer", SharedData.Require("llama2-tokenizer/tokenizer.model"), "--samples", "1", "--json");
        Assert.True(exit == 0, err);
        var doc = JsonDocument.Parse(output).RootElement;
        Assert.Equal(JsonValueKind.Array, doc.ValueKind);
        var text = doc[0].ToString();
        Assert.Contains("USER:", text);
        Assert.Contains("ASSISTANT:", text);
    }

    [Fact]
    public void Info_reads_a_gguf_model()
    {
        var (exit, output, err) = CliHarness.Run("info", "--model", SharedData.Require("gguf/llama-2-tiny-random.gguf"), "--json");
        Assert.True(exit == 0, err);
        var r = JsonDocument.Parse(output).RootElement;
        Assert.Equal(8, r.GetProperty("hidden_size").GetInt32());
        Assert.Equal(32000, r.GetProperty("vocab_size").GetInt32());
        Assert.Equal(32000, r.GetProperty("tokenizer_vocab_size").GetInt32());
    }

    [Fact]
    public void Unknown_mode_is_one_clear_line()
    {
        var (exit, _, err) = CliHarness.Run("train", "--mode", "qlorax");
        Assert.NotEqual(0, exit);
        Assert.Contains("--mode", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
