using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

public class ReaderFormatTests
{
    private static Dataset ReadText(string name, string content) => DataTestUtil.ReadFile(name, content);

    [Fact]
    public void ShareGpt_jsonl_with_role_aliases_system_turn_and_a_leading_assistant_turn()
    {
        var d = ReadText("chat.jsonl",
            "{\"id\": \"a\", \"conversations\": [{\"from\": \"system\", \"value\": \"Be kind.\"}, {\"from\": \"user\", \"value\": \"hi\"}, {\"from\": \"chatgpt\", \"value\": \"hello\"}]}\n" +
            "\n" +
            "{\"id\": 7, \"conversations\": [{\"from\": \"gpt\", \"value\": \"ignored\"}, {\"from\": \"Human\", \"value\": \"q\"}, {\"from\": \"bard\", \"value\": \"r\"}]}\n");
        Assert.Equal(DataFormat.ShareGpt, d.Format);
        var a = (ConversationSample)d.Samples[0];
        Assert.Equal("Be kind.", a.System);
        Assert.Equal(new[] { new Turn(Role.User, "hi"), new Turn(Role.Assistant, "hello") }, a.Turns);
        var b = (ConversationSample)d.Samples[1];
        Assert.Equal("7", b.Id);
        Assert.Equal(1, b.Index);
        Assert.Equal(new[] { new Turn(Role.User, "q"), new Turn(Role.Assistant, "r") }, b.Turns);
        Assert.Equal("1 conversation(s) started with an assistant turn; that turn was skipped (as FastChat does)", Assert.Single(d.Notes));
    }

    [Fact]
    public void OpenAi_messages_as_json_list_and_jsonl()
    {
        const string record = "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"u\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}";
        foreach (var (name, content) in new[] { ("m.json", $"[{record}, {record}]"), ("m.jsonl", record + "\n" + record + "\n") })
        {
            var d = ReadText(name, content);
            Assert.Equal(DataFormat.OpenAiMessages, d.Format);
            Assert.Equal(2, d.Samples.Count);
            var c = (ConversationSample)d.Samples[1];
            Assert.Equal("S", c.System);
            Assert.Equal(new[] { new Turn(Role.User, "u"), new Turn(Role.Assistant, "a") }, c.Turns);
            Assert.Equal("S USER: u ASSISTANT: a</s>", TemplateSegment.ToText(ChatTemplate.DefaultFor(d.Format).Render(c)));
        }
    }

    [Fact]
    public void Alpaca_jsonl_with_null_and_missing_input()
    {
        var d = ReadText("a.jsonl", "{\"instruction\": \"i1\", \"input\": null, \"output\": \"o1\"}\n{\"instruction\": \"i2\", \"output\": \"o2\"}\n{\"instruction\": \"i3\", \"input\": \"x\", \"output\": \"o3\"}");
        Assert.Equal(DataFormat.Alpaca, d.Format);
        var c = d.Samples.Cast<ConversationSample>().ToList();
        Assert.Equal(new string?[] { null, null, "x" }, c.Select(s => s.Context));
    }

    [Fact]
    public void Jsonl_text_column_and_a_single_line_json_file()
    {
        var d = ReadText("t.jsonl", "{\"text\": \"first\", \"id\": \"x\"}\n{\"text\": \"  \"}\n{\"text\": \"third\"}\n");
        Assert.Equal(DataFormat.Text, d.Format);
        Assert.Equal(new[] { "first", "third" }, d.Samples.Cast<TextSample>().Select(s => s.Text));
        Assert.Equal(new[] { 0, 2 }, d.Samples.Select(s => s.Index));
        Assert.Contains("1 record(s) with an empty \"text\" were skipped", d.Notes);

        var one = ReadText("one.json", "{\"text\": \"only\"}");
        Assert.Equal("only", ((TextSample)Assert.Single(one.Samples)).Text);
    }

    [Fact]
    public void Plain_text_splits_on_blank_lines_and_handles_crlf()
    {
        var d = ReadText("p.txt", "a b\r\nc\r\n\r\n\r\n  \r\nd\r\n");
        Assert.Equal(new[] { "a b\nc", "d" }, d.Samples.Cast<TextSample>().Select(s => s.Text));
    }

    [Fact]
    public void Plain_text_with_endoftext_keeps_blank_lines_inside_documents()
    {
        var d = ReadText("p.txt", "Para 1.\n\nPara 2.\n<|endoftext|>\n\n<|endoftext|>\nDoc 2.\n <|endoftext|> \n");
        Assert.Equal(new[] { "Para 1.\n\nPara 2.", "Doc 2." }, d.Samples.Cast<TextSample>().Select(s => s.Text));
    }

    [Fact]
    public void Unknown_extension_is_sniffed()
    {
        Assert.Equal(DataFormat.Alpaca, ReadText("data.dat", "  [{\"instruction\": \"i\", \"output\": \"o\"}]").Format);
        Assert.Equal(DataFormat.Text, ReadText("notes", "hello").Format);
    }

    [Fact]
    public void Utf8_bom_is_skipped()
    {
        using var dir = new TempDir();
        var path = dir.File("bom.json");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "[{\"text\": \"é\"}]"u8]);
        Assert.Equal("é", ((TextSample)Assert.Single(DataReader.Read(path).Samples)).Text);
    }
}
