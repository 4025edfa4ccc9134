using Engine.Formats;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Formats;

public class GgufWriterTests
{
    private static void Rewrite(GgufFile g, string path)
    {
        var w = new GgufWriter();
        foreach (var (k, v) in g.Metadata) w.Add(k, v);
        foreach (var t in g.Tensors) w.AddTensor(t.Name, t.Type, t.Shape, g.ReadBytes(t.Name).ToArray());
        w.Write(path);
    }

    [Theory]
    [InlineData("gguf/llama-2-tiny-random.gguf")]
    [InlineData("gguf/ggml-vocab-llama-spm.gguf")]
    public void RewritingARealFileReproducesItByteForByte(string relative)
    {
        var original = SharedData.Require(relative);
        using var dir = new TempDir();
        var copy = dir.File("copy.gguf");
        using (var g = GgufFile.Open(original)) Rewrite(g, copy);
        Assert.Equal(File.ReadAllBytes(original), File.ReadAllBytes(copy));
    }

    [Fact]
    public void RoundTripsEveryValueTypeAndEveryTensorType()
    {
        using var dir = new TempDir();
        var path = dir.File("all.gguf");
        var w = new GgufWriter();
        w.Add("general.alignment", GgufValue.U32(64));
        w.Add("u8", GgufValue.U8(200));
        w.Add("i8", GgufValue.I8(-100));
        w.Add("u16", GgufValue.U16(60000));
        w.Add("i16", GgufValue.I16(-30000));
        w.Add("u32", GgufValue.U32(4_000_000_000));
        w.Add("i32", GgufValue.I32(-2_000_000_000));
        w.Add("f32", GgufValue.F32(1.25f));
        w.Add("bool", GgufValue.Bool(true));
        w.Add("string", GgufValue.String("héllo ▁"));
        w.Add("u64", GgufValue.U64(ulong.MaxValue));
        w.Add("i64", GgufValue.I64(long.MinValue));
        w.Add("f64", GgufValue.F64(-0.1));
        w.AddArray("a.u8", new byte[] { 1, 2 });
        w.AddArray("a.i8", new sbyte[] { -1 });
        w.AddArray("a.u16", new ushort[] { 65535 });
        w.AddArray("a.i16", new short[] { -2, 3 });
        w.AddArray("a.u32", new uint[] { 7 });
        w.AddArray("a.i32", new[] { 1, 2, 3 });
        w.AddArray("a.f32", new[] { 0.5f });
        w.AddArray("a.bool", new[] { true, false, true });
        w.AddArray("a.string", new[] { "a", "", "ccc" });
        w.AddArray("a.u64", new ulong[] { 1UL << 40 });
        w.AddArray("a.i64", new long[] { -(1L << 40) });
        w.AddArray("a.f64", new[] { 2.5, 1e300 });
        w.AddArray("a.empty", Array.Empty<float>());
        w.AddArray("a.nested", new[] { GgufValue.Array(new[] { 1, 2 }), GgufValue.Array(new[] { "x" }) });

        var rng = new Rng(4);
        var values = new Dictionary<GgmlType, float[]>();
        foreach (var type in Enum.GetValues<GgmlType>())
        {
            var v = new float[3 * 256];
            rng.FillNormal(v, 0, 1);
            values[type] = v;
            w.AddTensorFloats($"t.{type.Name()}", type, [3, 256], v);
        }
        w.AddTensor("raw", GgmlType.F32, [5], s => s.Write(new byte[20]));
        w.Write(path);

        using var g = GgufFile.Open(path);
        Assert.Equal(3u, g.Version);
        Assert.Equal(64u, g.Alignment);
        Assert.Equal(0, g.DataOffset % 64);
        Assert.Equal(w.Metadata.Select(kv => kv.Key), g.Metadata.Select(kv => kv.Key));
        Assert.Equal((byte)200, g.Get("u8").Value);
        Assert.Equal((sbyte)-100, g.Get("i8").Value);
        Assert.Equal((ushort)60000, g.Get("u16").Value);
        Assert.Equal((short)-30000, g.Get("i16").Value);
        Assert.Equal(4_000_000_000u, g.GetU32("u32"));
        Assert.Equal(-2_000_000_000, g.GetI32("i32"));
        Assert.Equal(1.25f, g.GetF32("f32"));
        Assert.True(g.GetBool("bool"));
        Assert.Equal("héllo ▁", g.GetString("string"));
        Assert.Equal(ulong.MaxValue, g.GetU64("u64"));
        Assert.Equal(long.MinValue, g.Get("i64").Value);
        Assert.Equal(-0.1, g.Get("f64").Value);
        Assert.Equal(new byte[] { 1, 2 }, g.GetArray<byte>("a.u8"));
        Assert.Equal(new sbyte[] { -1 }, g.GetArray<sbyte>("a.i8"));
        Assert.Equal(new ushort[] { 65535 }, g.GetArray<ushort>("a.u16"));
        Assert.Equal(new short[] { -2, 3 }, g.GetArray<short>("a.i16"));
        Assert.Equal(new uint[] { 7 }, g.GetArray<uint>("a.u32"));
        Assert.Equal(new[] { 1, 2, 3 }, g.GetArray<int>("a.i32"));
        Assert.Equal(new[] { 0.5f }, g.GetArray<float>("a.f32"));
        Assert.Equal(new[] { true, false, true }, g.GetArray<bool>("a.bool"));
        Assert.Equal(new[] { "a", "", "ccc" }, g.GetArray<string>("a.string"));
        Assert.Equal(new ulong[] { 1UL << 40 }, g.GetArray<ulong>("a.u64"));
        Assert.Equal(new long[] { -(1L << 40) }, g.GetArray<long>("a.i64"));
        Assert.Equal(new[] { 2.5, 1e300 }, g.GetArray<double>("a.f64"));
        Assert.Empty(g.GetArray<float>("a.empty"));
        var nested = g.GetArray<GgufValue>("a.nested");
        Assert.Equal(new[] { 1, 2 }, nested[0].Value);
        Assert.Equal(new[] { "x" }, nested[1].Value);
        Assert.Equal(-2_000_000_000, g.GetInteger("i32"));
        Assert.Throws<FileFormatException>(() => g.GetInteger("u64")); // above long.MaxValue

        foreach (var (type, v) in values)
        {
            string name = $"t.{type.Name()}";
            var info = g.TensorInfo(name);
            Assert.Equal(type, info.Type);
            Assert.Equal([256L, 3L], info.Dims);
            Assert.Equal(0, info.Offset % 64);
            var entry = g.Info(name);
            Assert.Equal([3, 256], entry.Shape);
            Assert.Equal(type.IsQuantized() ? type.Name() : null, entry.FileType);
            var expectedBytes = new byte[type.RowSize(v.Length)];
            GgmlBlocks.Quantize(type, v, expectedBytes);
            Assert.Equal(expectedBytes, g.ReadBytes(name).ToArray());
            var expectedFloats = new float[v.Length];
            GgmlBlocks.Dequantize(type, expectedBytes, expectedFloats);
            var got = new float[v.Length];
            g.ReadFloats(name, got);
            Assert.Equal(expectedFloats, got);
        }
        Assert.Equal(DType.U8, g.Info("t.q8_0").DType);
        Assert.Equal(DType.BF16, g.Info("t.bf16").DType);
        Assert.Equal(20, g.ReadBytes("raw").Length);
    }

    [Fact]
    public void WriterRejectsWhatLlamaCppCannotLoad()
    {
        var w = new GgufWriter();
        var ex = Assert.Throws<EngineException>(() => w.AddTensorFloats("w", GgmlType.Q4_0, [2, 172], new float[344]));
        Assert.Contains("172", ex.Message);
        Assert.Throws<ArgumentException>(() => w.AddTensor(new string('x', 64), GgmlType.F32, [1], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("w", GgmlType.F32, [2], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("w", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4]));
        w.AddU32("k", 1);
        Assert.Throws<ArgumentException>(() => w.AddU32("k", 2));
        Assert.Throws<ArgumentException>(() => w.Add("general.alignment", GgufValue.U32(24)));
        Assert.Throws<ArgumentException>(() => w.Add("general.alignment", GgufValue.U64(32)));
    }

    [Fact]
    public void FailedWriteLeavesTargetUntouched()
    {
        using var dir = new TempDir();
        var path = dir.File("m.gguf");
        File.WriteAllText(path, "old");
        var w = new GgufWriter();
        w.AddTensor("w", GgmlType.F16, [4], s => s.Write(new byte[6]));
        var ex = Assert.Throws<InvalidOperationException>(() => w.Write(path));
        Assert.Contains("wrote 6 bytes", ex.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}
