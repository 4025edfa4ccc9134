using Engine.Backends;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Checkpoints;

/// <summary>Loading a GGUF block weight refuses non-finite values by looking only at the blocks' fp16 scale fields
/// (<see cref="GgmlBlockWeights.HalfScaleFields"/>) for the types whose values are codes times those scales. The field
/// offsets are checked against the dequantizer (an independent reading of the layout): an infinite or NaN value in a
/// listed field makes the block's values non-finite, in any other 2-byte position it does not; and a file with one bad
/// scale is refused with its row.</summary>
public class GgmlBlockFiniteTests
{
    public static TheoryData<string> Types() => new(new[]
    {
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    }.Select(t => t.ToString()));

    private static byte[] Block(GgmlType type, Rng rng)
    {
        var f = new float[type.BlockSize()];
        rng.FillNormal(f, 0.3, 1);
        var b = new byte[type.TypeSize()];
        GgmlBlocks.Quantize(type, f, b);
        return b;
    }

    private static bool AllFinite(GgmlType type, byte[] block)
    {
        var v = new float[type.BlockSize()];
        GgmlBlocks.Dequantize(type, block, v);
        return v.All(float.IsFinite);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Scale_fields_are_where_the_dequantizer_reads_the_scales(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var fields = GgmlBlockWeights.HalfScaleFields(type) ?? throw new Xunit.Sdk.XunitException($"{type} has no scale fields listed");
        var rng = new Rng(31 + (ulong)type);
        var clean = Block(type, rng);
        Assert.True(AllFinite(type, clean));
        for (int at = 0; at + 2 <= clean.Length; at++)
        {
            foreach (ushort bad in new ushort[] { 0x7C00, 0xFC00, 0x7E00 })
            {
                var b = (byte[])clean.Clone();
                BitConverter.TryWriteBytes(b.AsSpan(at), bad);
                bool listed = fields.Contains(at);
                // A listed field set to inf/NaN must poison the block; elsewhere the same bytes are codes or small
                // scales, whose values stay finite (unless they overlap a listed field).
                bool overlaps = fields.Any(f => Math.Abs(f - at) == 1);
                if (listed) Assert.False(AllFinite(type, b), $"{type}: {bad:X4} at byte {at} (a scale field) left every value finite");
                else if (!overlaps) Assert.True(AllFinite(type, b), $"{type}: {bad:X4} at byte {at} (not a scale field) made a value non-finite");
            }
        }
    }

    [Theory]
    [InlineData("Q4_0")]
    [InlineData("Q6_K")]
    [InlineData("Q4_1")]
    public void A_file_with_one_bad_scale_is_refused_with_its_row(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        int rows = 6, cols = type.BlockSize() * 3, badRow = 4;
        var rng = new Rng(7);
        var bytes = new byte[type.RowSize((long)rows * cols)];
        for (int i = 0; i < bytes.Length / type.TypeSize(); i++) Block(type, rng).CopyTo(bytes, i * type.TypeSize());
        var field = GgmlBlockWeights.HalfScaleFields(type)![^1];
        long rowBytes = type.RowSize(cols);
        var path = Path.Combine(Path.GetTempPath(), $"engine-finite-{Guid.NewGuid():N}.gguf");
        try
        {
            foreach (bool damaged in new[] { false, true })
            {
                var data = (byte[])bytes.Clone();
                if (damaged) BitConverter.TryWriteBytes(data.AsSpan((int)(badRow * rowBytes + type.TypeSize() + field)), (ushort)0x7E00);
                var writer = new GgufWriter();
                writer.AddTensor("w", type, [rows, cols], data);
                writer.Write(path);
                using var src = GgufFile.Open(path);
                using var arena = new HostArena();
                if (!damaged)
                {
                    using var ok = GgmlBlockWeights.Open(src, "w", type, [rows, cols], 0, GgmlPlacement.HostMemory, arena);
                    Assert.Equal(rows, ok.Rows);
                    continue;
                }
                var e = Assert.Throws<FileFormatException>(() => GgmlBlockWeights.Open(src, "w", type, [rows, cols], 0, GgmlPlacement.HostMemory, arena));
                Assert.Contains($"row {badRow}", e.Message);
                Assert.Contains("w", e.Message);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
