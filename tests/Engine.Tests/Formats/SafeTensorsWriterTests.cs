using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Formats;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Formats;

public class SafeTensorsWriterTests
{
    private static SafeTensorsWriter Sample()
    {
        var w = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        w.AddFloats("b.weight", [2, 3], new float[] { 1, 2, 3, 4, 5, 6 });
        w.AddFloats("a.half", [2], new float[] { 1f, -2f }, DType.F16);
        w.AddFloats("c.bf", [1], new float[] { 1f + 1f / 256 }, DType.BF16); // tie -> 1.0
        w.Add("ids", DType.I32, [3], MemoryMarshal.AsBytes<int>([7, -1, 0]).ToArray());
        w.Add("mask", DType.U8, [4], s => s.Write([1, 0, 1, 1]));
        w.AddFloats("a.weight", [1], new float[] { 9f });
        return w;
    }

    [Fact]
    public void WritesReferenceLayout()
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        Sample().Write(path);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        // metadata first, then by element size (F32, I32, BF16, F16, U8) and name; padded with spaces.
        Assert.StartsWith("""{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]},"ids":{"dtype":"I32","shape":[3],"data_offsets":[28,40]},"c.bf":{"dtype":"BF16","shape":[1],"data_offsets":[40,42]},"a.half":{"dtype":"F16","shape":[2],"data_offsets":[42,46]},"mask":{"dtype":"U8","shape":[4],"data_offsets":[46,50]}}""", header);
        Assert.True(header.Length - header.TrimEnd(' ').Length < 8);
        Assert.Equal(8 + (long)n + 50, bytes.Length);
        Assert.Equal(9f, BitConverter.ToSingle(bytes, 8 + (int)n));
        Assert.Equal(new byte[] { 0x80, 0x3F }, bytes[(8 + (int)n + 40)..(8 + (int)n + 42)]);
    }

    [Fact]
    public void RoundTripsThroughTheReader()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        Sample().Write(path);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        var v = new float[6];
        f.ReadFloats("b.weight", v);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, v);
        Assert.Equal([2, 3], f.Info("b.weight").Shape);
        var h = new float[2];
        f.ReadFloats("a.half", h);
        Assert.Equal(new[] { 1f, -2f }, h);
        Assert.Equal(new byte[] { 1, 0, 1, 1 }, f.ReadBytes("mask").ToArray());
        Assert.Equal(new[] { 7, -1, 0 }, MemoryMarshal.Cast<byte, int>(f.ReadBytes("ids")).ToArray());
    }

    [Fact]
    public void WriteReplacesAtomicallyAndLeavesNoTempFiles()
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        Sample().Write(path);
        var before = File.ReadAllBytes(path);

        var bad = new SafeTensorsWriter();
        bad.Add("w", DType.F32, [4], s => s.Write(new byte[12])); // 4 bytes short
        var ex = Assert.Throws<InvalidOperationException>(() => bad.Write(path));
        Assert.Contains("wrote 12 bytes", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["m.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));

        var good = new SafeTensorsWriter();
        good.AddFloats("x", [1], new float[] { 3f });
        good.Write(path);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(["x"], f.Names);
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void AddValidatesSizesAndNames()
    {
        var w = new SafeTensorsWriter();
        Assert.Throws<ArgumentException>(() => w.Add("w", DType.F32, [3], new byte[8]));
        w.Add("w", DType.F32, [2], new byte[8]);
        Assert.Throws<ArgumentException>(() => w.Add("w", DType.F32, [2], new byte[8]));
        Assert.Throws<ArgumentException>(() => w.Add("__metadata__", DType.U8, [1], new byte[1]));
        Assert.Throws<ArgumentException>(() => w.AddFloats("i", [1], new float[1], DType.I32));
    }

    [Fact]
    public void ShardedOutputRoundTripsThroughIndex()
    {
        using var dir = new TempDir();
        var w = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        var rng = new Rng(1);
        var expected = new Dictionary<string, float[]>();
        for (int i = 0; i < 5; i++)
        {
            var v = new float[100];
            rng.FillNormal(v, 0, 1);
            expected[$"layers.{i}.w"] = v;
            w.AddFloats($"layers.{i}.w", [10, 10], v);
        }
        var written = w.WriteSharded(dir.Path, maxShardBytes: 900); // 400-byte tensors, two per shard
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"],
            written.Select(Path.GetFileName));
        foreach (var shard in written.Take(3)) Assert.True(new FileInfo(shard).Length <= 900 + 512);

        using var src = SafeTensorsSource.Open(dir.Path);
        var sharded = Assert.IsType<ShardedSafeTensors>(src);
        Assert.Equal(5, src.Names.Count);
        Assert.Equal("model-00003-of-00003.safetensors", sharded.WeightMap["layers.4.w"]);
        foreach (var (name, v) in expected)
        {
            var got = new float[100];
            src.ReadFloats(name, got);
            Assert.Equal(v, got);
        }
        var index = File.ReadAllText(written[^1]);
        Assert.Contains("\"total_size\": 2000", index);
    }

    [Fact]
    public void SmallOutputIsOneFileAndStaleShardsAreRemoved()
    {
        using var dir = new TempDir();
        var big = new SafeTensorsWriter();
        big.AddFloats("a", [100], new float[100]);
        big.AddFloats("b", [100], new float[100]);
        big.WriteSharded(dir.Path, 500);
        Assert.Equal(3, Directory.GetFiles(dir.Path).Length);

        var small = new SafeTensorsWriter();
        small.AddFloats("a", [1], new float[] { 2f });
        var written = small.WriteSharded(dir.Path, 500);
        Assert.Equal(["model.safetensors"], written.Select(Path.GetFileName));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
        using var src = SafeTensorsSource.Open(dir.Path);
        Assert.IsType<SafeTensorsFile>(src);
    }

    [Fact]
    public void SourceOpenListsWhatItLookedFor()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("adapter_model.safetensors"), "");
        var ex = Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.Path));
        Assert.Contains("model.safetensors", ex.Message);
        Assert.Contains("model.safetensors.index.json", ex.Message);
        Assert.Contains("adapter_model.safetensors", ex.Message);
        Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.File("nothing-here")));
    }

    [Fact]
    public void IndexProblemsAreReported()
    {
        using var dir = new TempDir();
        var w = new SafeTensorsWriter();
        w.AddFloats("a", [1], new float[] { 1f });
        w.Write(dir.File("s1.safetensors"));

        void Index(string json) => File.WriteAllText(dir.File("model.safetensors.index.json"), json);
        Index("""{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}""");
        var ex = Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.Path));
        Assert.Contains("does not contain", ex.Message);
        Assert.Equal("weight_map['b']", ex.What);

        Index("""{"weight_map":{"a":"s2.safetensors"}}""");
        ex = Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.Path));
        Assert.Contains("'s2.safetensors' does not exist", ex.Message);

        Index("""{"weight_map":{"a":"../s1.safetensors"}}""");
        ex = Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.Path));
        Assert.Contains("not a plain file name", ex.Message);

        Index("""{"metadata":{}}""");
        ex = Assert.Throws<FileFormatException>(() => SafeTensorsSource.Open(dir.Path));
        Assert.Equal("weight_map", ex.What);
    }
}
