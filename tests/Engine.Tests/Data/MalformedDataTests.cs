using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

/// <summary>Bad files fail with a <see cref="DataFormatException"/> naming the file, the record and the field.</summary>
public class MalformedDataTests
{
    private static DataFormatException Fail(string name, string content) => DataTestUtil.WithFile(name, content, path =>
    {
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Equal(path, ex.FilePath);
        Assert.IsAssignableFrom<EngineException>(ex);
        return ex;
    });

    private const string Good = "{\"id\": \"g\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}";

    [Fact]
    public void Bad_json_names_the_record_line_and_byte()
    {
        var ex = Fail("bad.json", "[\n" + Good + ",\n" + Good + ",\n  {\"id\": \"x\", \"conversations\": [}\n]");
        Assert.Equal(2, ex.Record);
        Assert.Contains(": record 2: invalid JSON at line 4, byte ", ex.Message);
    }

    [Fact]
    public void Bad_json_missing_comma_between_records()
    {
        var ex = Fail("bad.json", "[" + Good + "\n" + Good + "]");
        Assert.Equal(1, ex.Record);
        Assert.Contains("invalid JSON at line 2, byte 1", ex.Message);
    }

    [Fact]
    public void Truncated_json_array()
    {
        var ex = Fail("cut.json", "[" + Good + ",");
        Assert.Contains("record 1", ex.Message);
        Assert.Contains("invalid JSON", ex.Message);
    }

    [Fact]
    public void Bad_jsonl_names_the_line()
    {
        var ex = Fail("bad.jsonl", Good + "\n\n{\"id\": \"y\", \"conversations\": [1,]}\n");
        Assert.Equal(1, ex.Record);
        Assert.Contains("record 1: invalid JSON at line 3, byte ", ex.Message);
    }

    [Fact]
    public void Conversation_without_assistant_turn()
    {
        var ex = Fail("c.json", $"[{Good}, {{\"id\": \"identity_1\", \"conversations\": [{{\"from\": \"human\", \"value\": \"q\"}}]}}]");
        Assert.Equal(1, ex.Record);
        Assert.Equal("identity_1", ex.RecordId);
        Assert.Equal("conversations", ex.Field);
        Assert.EndsWith("record 1 (id \"identity_1\"), field conversations: has no assistant turn: nothing to learn", ex.Message);
    }

    [Fact]
    public void Roles_that_do_not_alternate()
    {
        var ex = Fail("c.json", "[{\"id\": \"z\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"human\", \"value\": \"q2\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}]");
        Assert.EndsWith("record 0 (id \"z\"), field conversations[1]: roles must alternate user, assistant, user, ...: expected an assistant turn here, got a user turn", ex.Message);
    }

    [Fact]
    public void Unknown_from_value()
    {
        var ex = Fail("c.json", "[" + Good + ", {\"conversations\": [{\"from\": \"bot\", \"value\": \"q\"}]}]");
        Assert.EndsWith("record 1, field conversations[0].from: unknown role \"bot\"; expected human/user, gpt/assistant/chatgpt/bard or system", ex.Message);
    }

    [Fact]
    public void System_turn_in_the_middle()
    {
        var ex = Fail("c.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"system\", \"value\": \"s\"}]}]");
        Assert.Equal("conversations[1]", ex.Field);
    }

    [Fact]
    public void Missing_and_non_string_fields()
    {
        var ex = Fail("c.json", "[{\"id\": \"m\", \"conversations\": [{\"from\": \"human\"}]}]");
        Assert.EndsWith("record 0 (id \"m\"), field conversations[0].value: missing (fields present: from)", ex.Message);

        ex = Fail("c.json", "[{\"id\": \"n\", \"conversations\": [{\"from\": \"human\", \"value\": 3}]}]");
        Assert.EndsWith("field conversations[0].value: expected a string, got a number", ex.Message);

        ex = Fail("c.json", "[" + Good + ", {\"id\": \"o\", \"conversations\": \"hi\"}]");
        Assert.EndsWith("record 1 (id \"o\"), field conversations: expected a JSON array, got a string", ex.Message);

        ex = Fail("a.json", "[{\"instruction\": \"i\", \"output\": \"o\"}, {\"instruction\": \"i\", \"input\": 5, \"output\": \"o\"}]");
        Assert.EndsWith("record 1, field input: expected a string, got a number", ex.Message);

        ex = Fail("a.json", "[{\"instruction\": \"i\", \"output\": \"o\"}, {\"instruction\": \"i\"}]");
        Assert.EndsWith("record 1, field output: missing (fields present: instruction)", ex.Message);

        ex = Fail("m.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}, {\"role\": \"tool\", \"content\": \"x\"}]}");
        Assert.EndsWith("record 0, field messages[1].role: unknown role \"tool\"; expected system, user or assistant", ex.Message);

        ex = Fail("r.json", "[" + Good + ", 5]");
        Assert.EndsWith("record 1: expected a JSON object, got a number", ex.Message);
    }

    [Fact]
    public void Jsonl_without_text_column_lists_the_columns()
    {
        var ex = Fail("t.jsonl", "{\"body\": \"x\", \"title\": \"y\"}\n");
        Assert.Contains("record 0: cannot tell the data format from the fields present (body, title)", ex.Message);

        ex = Fail("t.jsonl", "{\"text\": \"x\"}\n{\"body\": \"x\", \"title\": \"y\"}\n");
        Assert.EndsWith("record 1, field text: missing: no \"text\" column (columns found: body, title)", ex.Message);
    }

    [Fact]
    public void Csv_without_text_column_lists_the_columns()
    {
        var ex = Fail("t.csv", "id,body\n1,hello\n");
        Assert.EndsWith("field header: no \"text\" column (columns found: \"id\", \"body\")", ex.Message);
    }

    [Fact]
    public void Empty_file_and_empty_dataset()
    {
        Assert.EndsWith("file: the file is empty", Fail("e.json", "").Message);
        Assert.EndsWith("file: the file is empty", Fail("e.txt", " \n\n").Message);
        Assert.EndsWith("file: the dataset is empty: no records", Fail("e.json", "[ ]").Message);
        Assert.EndsWith("the dataset is empty: the file has a header row and no data rows", Fail("e.csv", "text\n").Message);
        Assert.Contains("the dataset is empty", Fail("e.txt", "<|endoftext|>\n").Message);
    }

    [Fact]
    public void Single_multiline_json_object_is_rejected_with_its_fields()
    {
        var ex = Fail("o.json", "{\n \"data\": []\n}\n");
        Assert.Contains("the file is one JSON object (fields: data)", ex.Message);
    }

    [Fact]
    public void Missing_file()
    {
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read("/nonexistent/dir/data.json"));
        Assert.Equal("/nonexistent/dir/data.json: file: file not found", ex.Message);
    }

    [Fact]
    public void Invalid_utf8_text()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.txt");
        File.WriteAllBytes(path, [(byte)'a', 0xFF, (byte)'b']);
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.Equal($"{path}: file: not valid UTF-8 at line 1, byte 2 (0xFF at file offset 1); {Utf8Advice}", ex.Message);
    }

    private const string Utf8Advice = "data files must be UTF-8 (convert it first, e.g. iconv -f latin1 -t utf-8)";
}
