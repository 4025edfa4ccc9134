using Engine.Tests.Formats;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Export;

/// <summary>Broken GGUF files given to the CLI: one "error:" line that names the file and the problem, exit code 1,
/// never a crash (the reader's byte-level cases are in Formats/GgufMalformedTests).</summary>
public class MalformedGgufCliTests
{
    private static void OneLineError(string path, string expected)
    {
        var (exit, output, err) = CliHarness.Run("info", "--model", path);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        var line = Assert.Single(err.Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(Path.GetFileName(path), line);
        Assert.Contains(expected, line);
    }

    private static GgufBytes OneTensor(ulong[] dims, uint type, ulong offset) =>
        new GgufBytes(tensors: 1, kvs: 1).KvString("general.architecture", "llama").TensorInfo("token_embd.weight", dims, type, offset).PadTo(32);

    [Fact]
    public void Bad_magic() { using var d = new TempDir(); OneLineError(new GgufBytes(magic: 0x46554750).Save(d.File("magic.gguf")), "expected 'GGUF'"); }

    [Fact]
    public void Tensor_count_past_the_end() { using var d = new TempDir(); OneLineError(new GgufBytes(tensors: 1UL << 40).Save(d.File("count.gguf")), "cannot fit"); }

    [Fact]
    public void Metadata_count_past_the_end()
    {
        using var d = new TempDir();
        OneLineError(new GgufBytes(kvs: 3).KvString("general.architecture", "llama").Save(d.File("kvs.gguf")), "metadata #1 key length: needs 8 bytes at offset 69 but the file ends at 69");
    }

    [Fact]
    public void String_length_past_the_end()
    {
        using var d = new TempDir();
        OneLineError(new GgufBytes(kvs: 1).Str("general.architecture").U32(8).U64(1UL << 50).Raw(new byte[8]).Save(d.File("str.gguf")), "past the end");
    }

    [Fact]
    public void Tensor_data_offset_past_the_end()
    {
        using var d = new TempDir();
        OneLineError(OneTensor(new ulong[] { 8, 4 }, 0, 4096).Raw(new byte[128]).Save(d.File("offset.gguf")), "outside");
    }

    [Fact]
    public void Unknown_tensor_type()
    {
        using var d = new TempDir();
        OneLineError(OneTensor(new ulong[] { 32, 2 }, 77, 0).Raw(new byte[256]).Save(d.File("ttype.gguf")), "unknown type id 77");
    }

    [Fact]
    public void Unsupported_i_quant_tensor_type_is_named()
    {
        using var d = new TempDir();
        OneLineError(OneTensor(new ulong[] { 256, 2 }, 23, 0).Raw(new byte[512]).Save(d.File("iq4xs.gguf")), "iq4_xs");
    }

    [Fact]
    public void Unknown_metadata_value_type()
    {
        using var d = new TempDir();
        OneLineError(new GgufBytes(kvs: 1).Str("general.architecture").U32(42).Raw(new byte[16]).Save(d.File("vtype.gguf")), "unknown value type 42");
    }

    [Fact]
    public void Truncated_real_file()
    {
        using var d = new TempDir();
        var bytes = File.ReadAllBytes(SharedData.Require("gguf/llama-2-tiny-random.gguf"));
        var path = d.File("cut.gguf");
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        OneLineError(path, "cut.gguf");
    }

    [Fact]
    public void Well_formed_file_without_llama_keys_names_the_missing_key()
    {
        using var d = new TempDir();
        OneLineError(new GgufBytes(kvs: 1).KvString("general.architecture", "llama").Save(d.File("nokeys.gguf")), "llama.embedding_length");
    }
}
