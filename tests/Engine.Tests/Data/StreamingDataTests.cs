using System.Text;
using System.Text.Json;
using Engine.Api;
using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

/// <summary>The readers stream (bounded buffers, one record at a time) and refuse what they cannot read by name:
/// invalid UTF-8 (file, record, line, offset), records over 64 MiB, folders and devices.</summary>
public class StreamingDataTests
{
    private const string Good = "{\"id\": \"g\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}";
    private const string Advice = "data files must be UTF-8 (convert it first, e.g. iconv -f latin1 -t utf-8)";

    private static byte[] Bytes(params object[] parts)
    {
        var b = new List<byte>();
        foreach (var p in parts) b.AddRange(p is string s ? Encoding.UTF8.GetBytes(s) : (byte[])p);
        return b.ToArray();
    }

    private static DataFormatException Fail(TempDir dir, string name, byte[] content)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, content);
        return Assert.Throws<DataFormatException>(() => DataReader.Read(path));
    }

    // A ShareGPT record whose human value holds one Latin-1 byte (0xE9, "é" in ISO-8859-1) at byte column 62.
    private static readonly byte[] BadRecord = Bytes("{\"id\": \"b\", \"conversations\": [{\"from\": \"human\", \"value\": \"caf", new byte[] { 0xE9 },
        "\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}");

    [Fact]
    public void Invalid_utf8_in_jsonl_names_the_record_line_and_offset()
    {
        using var dir = new TempDir();
        var ex = Fail(dir, "d.jsonl", Bytes(Good, "\n\n", BadRecord, "\n"));
        long offset = Good.Length + 2 + 61;
        Assert.Equal($"{dir.File("d.jsonl")}: record 1: not valid UTF-8 at line 3, byte 62 (0xE9 at file offset {offset}); {Advice}", ex.Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_json_array_names_the_record_line_and_offset()
    {
        using var dir = new TempDir();
        var ex = Fail(dir, "d.json", Bytes("[\n", Good, ",\n  ", BadRecord, "\n]"));
        long offset = 2 + Good.Length + 2 + 2 + 61;
        Assert.Equal($"{dir.File("d.json")}: record 1: not valid UTF-8 at line 3, byte 64 (0xE9 at file offset {offset}); {Advice}", ex.Message);
    }

    [Fact]
    public void Invalid_utf8_in_csv_names_the_line_and_offset()
    {
        using var dir = new TempDir();
        var ex = Fail(dir, "d.csv", Bytes("id,text\na,fine\nb,caf", new byte[] { 0xE9 }, "\n"));
        Assert.Equal($"{dir.File("d.csv")}: file: not valid UTF-8 at line 3, byte 6 (0xE9 at file offset 20); {Advice}", ex.Message);
    }

    [Fact]
    public void Invalid_utf8_in_text_past_the_first_buffer_names_the_line_and_offset()
    {
        using var dir = new TempDir();
        var line = new string('a', 99) + "\n";
        var ex = Fail(dir, "d.txt", Bytes(string.Concat(Enumerable.Repeat(line, 1000)), "xx", new byte[] { 0xC3, (byte)'(' }, "\n"));
        Assert.Equal($"{dir.File("d.txt")}: file: not valid UTF-8 at line 1001, byte 3 (0xC3 at file offset 100002); {Advice}", ex.Message);
    }

    [Fact]
    public void Eval_text_with_invalid_utf8_is_refused_not_replaced()
    {
        using var dir = new TempDir();
        var path = dir.File("eval.txt");
        File.WriteAllBytes(path, Bytes("one block\n\ncaf", new byte[] { 0xE9 }, " au lait\n"));
        var ex = Assert.ThrowsAny<EngineException>(() => TextBlocks.Read(path));
        Assert.Equal($"{path}: file: not valid UTF-8 at line 3, byte 4 (0xE9 at file offset 14); {Advice}", ex.Message);
    }

    [Fact]
    public void Eval_data_and_preview_with_invalid_utf8_give_the_same_error()
    {
        using var dir = new TempDir();
        var train = dir.File("train.jsonl");
        File.WriteAllText(train, Good + "\n");
        var eval = dir.File("eval.jsonl");
        File.WriteAllBytes(eval, Bytes(BadRecord, "\n"));
        var expected = $"{eval}: record 0: not valid UTF-8 at line 1, byte 62 (0xE9 at file offset 61); {Advice}";
        var ex = Assert.Throws<DataFormatException>(() =>
            TrainingData.Prepare(new DataOptions { DataPath = train, EvalDataPath = eval, MaxLength = 16 }, new WordTokenizer()));
        Assert.Equal(expected, ex.Message);
        var tokenizer = SharedData.Require("stories260K/tok512.bin");
        var preview = Assert.ThrowsAny<EngineException>(() => DataPreviewer.Render(eval, new DataPreviewOptions { Tokenizer = tokenizer }, json: false));
        Assert.Equal(expected, preview.Message);
    }

    [Fact]
    public void A_lone_surrogate_escape_names_the_record_and_field()
    {
        var content = Good + "\n{\"id\": \"s\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\\ud800\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}\n";
        var ex = Assert.Throws<DataFormatException>(() => DataTestUtil.ReadFile("d.jsonl", content));
        Assert.EndsWith(": record 1 (id \"s\"), field conversations[0].value: the string is not valid Unicode " +
                        "(Cannot read incomplete UTF-16 JSON text as string with missing low surrogate); a \\u escape must not be a lone surrogate", ex.Message);
    }

    [Fact]
    public void A_directory_is_named_as_one()
    {
        using var dir = new TempDir();
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(dir.Path));
        Assert.Equal($"{dir.Path}: file: is a directory; expected a data file (.json, .jsonl, .csv or .txt)", ex.Message);
    }

    [Fact]
    public void Dev_zero_is_refused_at_once()
    {
        if (!File.Exists("/dev/zero")) Assert.Skip("no /dev/zero here");
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read("/dev/zero"));
        Assert.Equal("/dev/zero: file: is not a regular file (a device or a pipe: it reports no size but yields data); expected a data file", ex.Message);
    }

    [Fact]
    public void Records_lines_and_blocks_over_64_MiB_are_refused_by_name()
    {
        using var dir = new TempDir();
        var big = new string('a', DataInput.MaxRecordBytes + 10);
        var jsonl = Fail(dir, "big.jsonl", Bytes(Good, "\n{\"text\": \"", big, "\"}\n"));
        Assert.Equal($"{dir.File("big.jsonl")}: file: line 2 (from file offset {Good.Length + 1}) is longer than 64 MiB; no record may be that large", jsonl.Message);

        var array = Fail(dir, "big.json", Bytes("[", Good, ",\n{\"text\": \"", big, "\"}]"));
        Assert.Equal($"{dir.File("big.json")}: record 1: the record at line 2 (file offset {1 + Good.Length + 2}) is larger than 64 MiB; " +
                     "no record may be that large (one record per line in a .jsonl file has the same limit)", array.Message);

        var text = Fail(dir, "big.txt", Bytes("short\n\n", big));
        Assert.Equal($"{dir.File("big.txt")}: file: line 3 is longer than 64 MiB; no line or text block may be that large", text.Message);
    }

    [Fact]
    public void Json_syntax_errors_far_into_an_array_name_the_right_line()
    {
        // Past many 64 KiB refills the reader state carries the line and column: the message matches the same bad line
        // read from a file that fits in one buffer.
        const string bad = "  {\"id\": \"x\", \"conversations\": [}\n]";
        var near = Assert.Throws<DataFormatException>(() => DataTestUtil.ReadFile("d.json", "[\n" + Good + ",\n" + bad));
        var far = Assert.Throws<DataFormatException>(() =>
            DataTestUtil.ReadFile("d.json", "[\n" + string.Concat(Enumerable.Repeat(Good + ",\n", 2000)) + bad));
        Assert.Equal(2000, far.Record);
        var tail = near.Message[near.Message.IndexOf(", byte ", StringComparison.Ordinal)..];
        Assert.Contains(": record 1: invalid JSON at line 3" + tail, near.Message);
        Assert.EndsWith(": record 2000: invalid JSON at line 2002" + tail, far.Message);
    }

    [Fact]
    public void A_json_array_streams_to_the_same_samples_as_its_jsonl_form()
    {
        var path = SharedData.Require("datasets/alpaca_data_cleaned_1000.json");
        var fromArray = DataReader.Read(path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var jsonl = string.Join("\n", doc.RootElement.EnumerateArray().Select(e => e.GetRawText().ReplaceLineEndings(" "))) + "\n";
        var fromLines = DataTestUtil.ReadFile("d.jsonl", jsonl);
        Assert.Equal(1000, fromArray.Samples.Count);
        Assert.Equal(fromArray.Format, fromLines.Format);
        Assert.Equal(fromArray.Samples.Select(Show), fromLines.Samples.Select(Show));

        static string Show(Sample s) => s is ConversationSample c
            ? $"{c.Index}|{c.Id}|{c.System}|{c.Context}|{string.Join("|", c.Turns.Select(t => $"{t.Role}:{t.Text}"))}"
            : s.ToString();
    }

    [Fact]
    public void Text_streams_to_the_same_blocks_as_in_memory_across_buffer_boundaries()
    {
        // Two- and three-byte characters at every alignment against the 64 KiB decode buffer, with CRLF and marker lines.
        var sb = new StringBuilder();
        for (int i = 0; i < 20000; i++)
            sb.Append(i % 7 == 0 ? "café\r\n" : i % 11 == 0 ? "\r\n" : i % 13 == 0 ? "€uro\u2028x\n" : "word\n");
        var text = sb.ToString();
        var streamed = DataTestUtil.ReadFile("d.txt", text).Samples.Cast<TextSample>().ToList();
        var inMemory = PlainTextReader.Read(text);
        Assert.True(streamed.Count > 100);
        Assert.Equal(inMemory.Select(s => (s.Index, s.Text)), streamed.Select(s => (s.Index, s.Text)));

        var marked = "a\n\nb\n<|endoftext|>\nc é\n  <|endoftext|>  \r\n";
        Assert.Equal(PlainTextReader.Read(marked).Select(s => s.Text), DataTestUtil.ReadFile("m.txt", marked).Samples.Cast<TextSample>().Select(s => s.Text));
    }

    [Fact]
    public void Streaming_eval_split_holds_out_the_same_samples()
    {
        var path = SharedData.Require("datasets/fastchat_dummy_conversation.json");
        var options = new DataOptions { DataPath = path, EvalSplit = 0.1, MaxLength = 64, Seed = 7 };
        var prepared = TrainingData.Prepare(options, new WordTokenizer());
        var (train, eval) = EvalSplit.Split(DataReader.Read(path).Samples, 0.1, 7);
        var encoder = new SampleEncoder(new WordTokenizer(), ChatTemplate.DefaultFor(DataFormat.ShareGpt), 64);
        var expectTrain = TrainingSequence.FromSamples(encoder.EncodeAll(train).Samples);
        var expectEval = TrainingSequence.FromSamples(encoder.EncodeAll(eval).Samples);
        Assert.Equal(expectTrain.Select(s => s.InputIds), prepared.Train.Sequences.Select(s => s.InputIds));
        Assert.Equal(expectEval.Select(s => s.Targets), prepared.Eval!.Sequences.Select(s => s.Targets));
        Assert.Equal(eval.Count, prepared.EvalStats!.Samples);
    }
}
