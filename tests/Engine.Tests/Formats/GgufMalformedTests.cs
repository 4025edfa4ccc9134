using Engine.Formats;
using Engine.Tests.Support;

namespace Engine.Tests.Formats;

public class GgufMalformedTests
{
    private static FileFormatException Fails(string path)
    {
        var ex = Assert.Throws<FileFormatException>(() => { using var _ = GgufFile.Open(path); });
        Assert.StartsWith(path + ": ", ex.Message);
        return ex;
    }

    [Theory]
    // magic, version, counts (18 KVs cannot fit in what is left), inside the 8th key (bytes 299..333), inside the tokens array, inside
    // the last tensor info, inside the data section (the first tensor that no longer fits), one byte short of the end.
    [InlineData(0, "magic")]
    [InlineData(3, "magic")]
    [InlineData(6, "version")]
    [InlineData(20, "metadata count")]
    [InlineData(40, "metadata count")]
    [InlineData(320, "metadata #7 key")]
    [InlineData(200_000, "tokenizer.ggml.tokens")]
    [InlineData(724_390, "tensor 'output.weight'")]
    [InlineData(1_000_000, "tensor 'token_embd.weight'")]
    [InlineData(1_750_559, "tensor 'output.weight'")]
    public void TruncatedRealFileNamesWhatIsCut(int length, string expectedWhat)
    {
        var original = SharedData.Require("gguf/llama-2-tiny-random.gguf");
        using var dir = new TempDir();
        var path = dir.File("cut.gguf");
        using (var src = File.OpenRead(original))
        using (var dst = File.Create(path))
        {
            var buf = new byte[length];
            src.ReadExactly(buf);
            dst.Write(buf);
        }
        var ex = Fails(path);
        Assert.Contains(expectedWhat, ex.What);
    }

    [Fact]
    public void CorruptMagicAndUnsupportedVersions()
    {
        using var dir = new TempDir();
        var ex = Fails(new GgufBytes(magic: 0x46554748).Save(dir.File("a.gguf")));
        Assert.Contains("expected 'GGUF'", ex.Message);
        Assert.Contains("48475546", ex.Message);
        ex = Fails(new GgufBytes(version: 1).Save(dir.File("b.gguf")));
        Assert.Contains("v1", ex.Message);
        ex = Fails(new GgufBytes(version: 0x03000000).Save(dir.File("c.gguf")));
        Assert.Contains("big-endian", ex.Message);
        ex = Fails(new GgufBytes(version: 4).Save(dir.File("d.gguf")));
        Assert.Equal("version", ex.What);
        // version 2 has the same layout as 3 and is accepted
        using var v2 = GgufFile.Open(new GgufBytes(version: 2, kvs: 1).KvU32("x", 5).Save(dir.File("e.gguf")));
        Assert.Equal(2u, v2.Version);
        Assert.Equal(5u, v2.GetU32("x"));
    }

    [Fact]
    public void HugeCountsAndLengthsAreRejectedBeforeAllocating()
    {
        using var dir = new TempDir();
        Assert.Contains("cannot fit", Fails(new GgufBytes(tensors: 1UL << 60).Save(dir.File("a.gguf"))).Message);
        Assert.Contains("cannot fit", Fails(new GgufBytes(kvs: 1UL << 62).Save(dir.File("b.gguf"))).Message);
        var ex = Fails(new GgufBytes(kvs: 1).U64(1UL << 63).Raw(new byte[16]).Save(dir.File("c.gguf")));
        Assert.Contains("runs past the end", ex.Message);
        ex = Fails(new GgufBytes(kvs: 1).Str("tokens").U32(9).U32(8).U64(1UL << 61).Raw(new byte[64]).Save(dir.File("d.gguf")));
        Assert.Equal("metadata 'tokens'", ex.What.Replace(" array length", ""));
        Assert.Contains("cannot fit", ex.Message);
        ex = Fails(new GgufBytes(kvs: 1).Str("f").U32(9).U32(6).U64(1000).Raw(new byte[64]).Save(dir.File("e.gguf")));
        Assert.Contains("cannot fit", ex.Message);
    }

    [Fact]
    public void UnknownValueTypesAreRejected()
    {
        using var dir = new TempDir();
        var ex = Fails(new GgufBytes(kvs: 1).Str("k").U32(13).Raw(new byte[16]).Save(dir.File("a.gguf")));
        Assert.Equal("metadata 'k'", ex.What);
        Assert.Contains("unknown value type 13", ex.Message);
        ex = Fails(new GgufBytes(kvs: 1).Str("k").U32(9).U32(99).U64(1).Raw(new byte[16]).Save(dir.File("b.gguf")));
        Assert.Contains("unknown array element type 99", ex.Message);
        ex = Fails(new GgufBytes(kvs: 2).KvU32("k", 1).KvU32("k", 2).Save(dir.File("c.gguf")));
        Assert.Contains("appears twice", ex.Message);
    }

    [Fact]
    public void BadAlignmentIsRejected()
    {
        using var dir = new TempDir();
        var ex = Fails(new GgufBytes(kvs: 1).KvU32("general.alignment", 24).Save(dir.File("a.gguf")));
        Assert.Contains("power of two", ex.Message);
        ex = Fails(new GgufBytes(kvs: 1).KvString("general.alignment", "32").Save(dir.File("b.gguf")));
        Assert.Contains("has type string; expected uint32", ex.Message);
    }

    private static string OneTensor(TempDir dir, string file, ulong[] dims, uint type, ulong offset, int dataBytes, Action<GgufBytes>? more = null, ulong count = 1)
    {
        var b = new GgufBytes(tensors: count).TensorInfo("w", dims, type, offset);
        more?.Invoke(b);
        return b.PadTo(32).Raw(new byte[dataBytes]).Save(dir.File(file));
    }

    [Fact]
    public void BadTensorInfosAreRejected()
    {
        using var dir = new TempDir();
        var ex = Fails(OneTensor(dir, "a.gguf", [32], 23, 0, 144));
        Assert.Equal("tensor 'w'", ex.What);
        Assert.Contains("ggml type 23 (iq4_xs) is not supported", ex.Message);
        ex = Fails(OneTensor(dir, "b.gguf", [32], 100, 0, 144));
        Assert.Contains("unknown type id 100", ex.Message);
        ex = Fails(OneTensor(dir, "c.gguf", [4], 0, 8, 64));
        Assert.Contains("not a multiple of the alignment 32", ex.Message);
        ex = Fails(OneTensor(dir, "d.gguf", [16], 0, 0, 32));
        Assert.Contains("lies outside the 32-byte data section", ex.Message);
        ex = Fails(OneTensor(dir, "e.gguf", [1, 1, 1, 1, 1], 0, 0, 32));
        Assert.Contains("5 dimensions", ex.Message);
        ex = Fails(OneTensor(dir, "f.gguf", [48, 2], 2, 0, 128));
        Assert.Contains("row length dims[0] = 48 is not a multiple of the q4_0 block size 32", ex.Message);
        ex = Fails(OneTensor(dir, "g.gguf", [1UL << 40], 0, 0, 32));
        Assert.Contains("too large", ex.Message);
        // two tensors: "w" at [0, 64) and "v" at [32, 96) overlap
        ex = Fails(OneTensor(dir, "h.gguf", [16], 0, 0, 128, b => b.TensorInfo("v", [16], 0, 32), count: 2));
        Assert.Contains("overlaps tensor 'w'", ex.Message);
        ex = Fails(OneTensor(dir, "i.gguf", [8], 0, 0, 64, b => b.TensorInfo("w", [8], 0, 32), count: 2));
        Assert.Contains("appears twice", ex.Message);
    }

    [Fact]
    public void WellFormedHandBuiltFileReads()
    {
        using var dir = new TempDir();
        // Control for the cases above: the same builder with consistent fields opens and reads back.
        var data = new byte[64];
        BitConverter.GetBytes(2.5f).CopyTo(data, 4);
        using var g = GgufFile.Open(new GgufBytes(tensors: 1).TensorInfo("w", [4], 0, 0).PadTo(32).Raw(data).Save(dir.File("ok.gguf")));
        var v = new float[4];
        g.ReadFloats("w", v);
        Assert.Equal(new[] { 0f, 2.5f, 0f, 0f }, v);
    }
}
