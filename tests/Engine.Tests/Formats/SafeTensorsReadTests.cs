using System.Runtime.InteropServices;
using Engine.Formats;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Formats;

public class SafeTensorsReadTests
{
    [Fact]
    public void ReadsHandBuiltFileWithEveryPlainDtype()
    {
        using var dir = new TempDir();
        var data = new List<byte>();
        data.AddRange(MemoryMarshal.AsBytes<float>([1.5f, -2f]).ToArray());          // F32 [2]        0..8
        data.AddRange(new byte[] { 0x00, 0x3C, 0x00, 0xC0 });                          // F16 [2] 1, -2  8..12
        data.AddRange(new byte[] { 0x80, 0x3F, 0x49, 0xC0 });                          // BF16 [2] 1, -3.140625  12..16
        data.AddRange(MemoryMarshal.AsBytes<int>([-7]).ToArray());                     // I32 [1]        16..20
        data.AddRange(new byte[] { 200, 0xFF });                                       // U8 [2]         20..22
        data.AddRange(new byte[] { 0xFF, 1 });                                         // BOOL [2] -> 1, 1 (any nonzero) 22..24
        data.AddRange(MemoryMarshal.AsBytes<long>([-5_000_000_000L]).ToArray());       // I64 [1]        24..32
        data.AddRange(MemoryMarshal.AsBytes<double>([0.25]).ToArray());                // F64 [1]        32..40
        data.AddRange(new byte[] { 0x80 });                                            // I8 [1] = -128  40..41
        const string header = """
            {"__metadata__":{"format":"pt","note":"hi"},
             "f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "f16":{"dtype":"F16","shape":[2,1],"data_offsets":[8,12]},
             "bf16":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},
             "i32":{"dtype":"I32","shape":[],"data_offsets":[16,20]},
             "u8":{"dtype":"U8","shape":[2],"data_offsets":[20,22]},
             "flags":{"dtype":"BOOL","shape":[2],"data_offsets":[22,24]},
             "i64":{"dtype":"I64","shape":[1],"data_offsets":[24,32]},
             "f64":{"dtype":"F64","shape":[1],"data_offsets":[32,40]},
             "i8":{"dtype":"I8","shape":[1],"data_offsets":[40,41]},
             "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[41,41]}}
            """;
        var path = SafeTensorsFixtures.Raw(dir.File("a.safetensors"), header, data.ToArray());
        using var f = SafeTensorsFile.Open(path);

        Assert.Equal(["f32", "f16", "bf16", "i32", "u8", "flags", "i64", "f64", "i8", "empty"], f.Names);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(DType.F16, f.Info("f16").DType);
        Assert.Equal([2, 1], f.Info("f16").Shape);
        Assert.Equal(DType.I32, f.Info("i32").DType);
        Assert.Empty(f.Info("i32").Shape);
        Assert.Equal(1, f.Info("i32").NumElements);
        Assert.Equal(DType.U8, f.Info("i64").DType);
        Assert.Equal("i64", f.Info("i64").FileType);
        Assert.Null(f.Info("f32").FileType);

        Assert.Equal(new[] { 1.5f, -2f }, Floats(f, "f32"));
        Assert.Equal(new[] { 1f, -2f }, Floats(f, "f16"));
        Assert.Equal(new[] { 1f, -3.140625f }, Floats(f, "bf16"));
        Assert.Equal(new[] { -7f }, Floats(f, "i32"));
        Assert.Equal(new[] { 200f, 255f }, Floats(f, "u8"));
        Assert.Equal(new[] { 1f, 1f }, Floats(f, "flags"));
        Assert.Equal(new[] { -5e9f }, Floats(f, "i64"));
        Assert.Equal(new[] { 0.25f }, Floats(f, "f64"));
        Assert.Equal(new[] { -128f }, Floats(f, "i8"));
        Assert.Empty(Floats(f, "empty"));
        Assert.Equal(new byte[] { 0x00, 0x3C, 0x00, 0xC0 }, f.ReadBytes("f16").ToArray());
        Assert.Equal(8, f.ReadBytes("i64").Length);
        Assert.Equal(f.DataOffset + 24, f.DataRange("i64").Offset);
    }

    private static float[] Floats(ITensorSource s, string name)
    {
        var a = new float[s.Info(name).NumElements];
        s.ReadFloats(name, a);
        return a;
    }

    public static TheoryData<string, string, string> BadHeaders => new()
    {
        { "not json", "{\"a\":", "header JSON" },
        { "array root", "[1,2]", "expected an object" },
        { "unknown dtype", """{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}""", "unknown dtype 'F7'" },
        { "missing dtype", """{"w":{"shape":[1],"data_offsets":[0,4]}}""", "dtype" },
        { "negative dim", """{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "shape[0]" },
        { "offsets past data", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", "do not lie within the 8-byte data section" },
        { "reversed offsets", """{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}""", "do not lie within" },
        { "size mismatch", """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "needs 12" },
        { "overlap", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "overlap" },
        { "three offsets", """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}""", "data_offsets" },
        { "metadata not strings", """{"__metadata__":{"n":3}}""", "expected a string" },
        { "duplicate tensor", """{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void MalformedHeadersAreRejectedNamingTheProblem(string label, string header, string expected)
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("bad.safetensors"), header, new byte[8]);
        var ex = Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(expected, ex.Message);
        Assert.StartsWith(path, ex.Message);
        Assert.NotNull(label);
    }

    [Fact]
    public void UnknownDtypeErrorNamesTensorAndDtype()
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("x.safetensors"), """{"layers.0.w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}""", new byte[1]);
        var ex = Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal("tensor 'layers.0.w'", ex.What);
        Assert.Contains("'Q4'", ex.Message);
    }

    [Fact]
    public void HeaderLengthBeyondFileIsRejected()
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("x.safetensors"), "{}", [], headerLengthOverride: 1000);
        var ex = Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal("header length", ex.What);
        Assert.Contains("1000", ex.Message);

        File.WriteAllBytes(dir.File("tiny.safetensors"), [1, 2, 3]);
        ex = Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(dir.File("tiny.safetensors")));
        Assert.Contains("3 bytes", ex.Message);

        File.WriteAllBytes(dir.File("zero.safetensors"), []);
        Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(dir.File("zero.safetensors")));
        Assert.Throws<FileFormatException>(() => SafeTensorsFile.Open(dir.File("missing.safetensors")));
    }

    [Fact]
    public void MissingTensorAndWrongDestinationAreReported()
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("x.safetensors"), """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[8]);
        using var f = SafeTensorsFile.Open(path);
        var ex = Assert.Throws<FileFormatException>(() => f.Info("nope"));
        Assert.Equal("tensor 'nope'", ex.What);
        Assert.Throws<ArgumentException>(() => f.ReadFloats("w", new float[3]));
    }

    [Fact]
    public void Fp8IsReadableAsBytesButNotAsFloats()
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("x.safetensors"), """{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", [0x38, 0xB8]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new byte[] { 0x38, 0xB8 }, f.ReadBytes("w").ToArray());
        Assert.Equal("f8_e4m3", f.Info("w").FileType);
        var ex = Assert.Throws<FileFormatException>(() => f.ReadFloats("w", new float[2]));
        Assert.Contains("F8_E4M3", ex.Message);
    }

    [Fact]
    public void DisposedFileRefusesReads()
    {
        using var dir = new TempDir();
        var path = SafeTensorsFixtures.Raw(dir.File("x.safetensors"), """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[8]);
        var f = SafeTensorsFile.Open(path);
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.ReadFloats("w", new float[2]));
    }
}
