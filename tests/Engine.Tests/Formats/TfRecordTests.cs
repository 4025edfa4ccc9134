using Engine.Formats;
using Engine.Tests.Support;
using Engine.Training.Metrics;

namespace Engine.Tests.Formats;

public class TfRecordTests
{
    // Event{ wall_time = 1.5, step = 3, summary { value { tag = "a", simple_value = 1.0 } } } framed as a TFRecord.
    // CRCs were computed with a bit-at-a-time CRC-32C written apart from the table-driven one under test.
    private static readonly byte[] GoldenRecord =
    [
        0x17, 0, 0, 0, 0, 0, 0, 0,                       // uint64 LE length = 23
        0xE7, 0xCE, 0xF8, 0x1E,                          // masked CRC-32C of the 8 length bytes (raw 0xF207BE3A)
        0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F,              // field 1 wire 1 (fixed64): double 1.5
        0x10, 0x03,                                      // field 2 wire 0 (varint): step 3
        0x2A, 0x0A,                                      // field 5 wire 2: Summary, 10 bytes
        0x0A, 0x08,                                      //   Summary field 1 wire 2: Value, 8 bytes
        0x0A, 0x01, (byte)'a',                           //     Value field 1 wire 2: tag "a"
        0x15, 0, 0, 0x80, 0x3F,                          //     Value field 2 wire 5 (fixed32): float 1.0
        0x59, 0x85, 0x99, 0x81,                          // masked CRC-32C of the 23 data bytes (raw 0x4D40EF8B)
    ];

    [Fact]
    public void GoldenRecord_WrittenByteForByte()
    {
        var ms = new MemoryStream();
        TfRecord.Write(ms, new TensorBoardEvent(1.5, 3, null, [("a", 1f)]).Encode());
        Assert.Equal(GoldenRecord, ms.ToArray());
    }

    [Fact]
    public void GoldenRecord_ReadsBack()
    {
        var records = TfRecord.ReadAll("golden", GoldenRecord);
        var e = TensorBoardEvent.Decode(Assert.Single(records).Span, "golden", "record 0");
        Assert.Equal(1.5, e.WallTime);
        Assert.Equal(3, e.Step);
        Assert.Null(e.FileVersion);
        Assert.Equal([("a", 1f)], e.Scalars);
    }

    [Fact]
    public void FileVersionEvent_OmitsDefaultStep()
    {
        // proto3 leaves step = 0 out; file_version is field 3 wire 2, 13 bytes.
        var bytes = new TensorBoardEvent(1700000000.25, 0, "brain.Event:2", []).Encode();
        Assert.Equal("0900001040fc54d9411a0d627261696e2e4576656e743a32", Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void ZeroValueAndNegativeStep_RoundTrip()
    {
        // simple_value sits in a oneof, so 0 must still be written; a negative int64 is a 10-byte varint.
        var bytes = new TensorBoardEvent(2.0, -5, null, [("z", 0f)]).Encode();
        var e = TensorBoardEvent.Decode(bytes, "mem", "record 0");
        Assert.Equal(-5, e.Step);
        Assert.Equal([("z", 0f)], e.Scalars);
        Assert.Equal(1 + 8 + 1 + 10 + 2 + 2 + 3 + 5, bytes.Length);
    }

    [Theory]
    [InlineData(3, "length CRC mismatch")]   // inside the length field
    [InlineData(9, "length CRC mismatch")]   // inside the stored length CRC
    [InlineData(20, "data CRC mismatch")]    // inside the payload
    [InlineData(36, "data CRC mismatch")]    // inside the stored data CRC
    public void CorruptedByte_InSecondRecord_IsNamed(int offsetInRecord, string problem)
    {
        using var dir = new TempDir();
        var path = dir.File("events");
        var file = GoldenRecord.Concat(GoldenRecord).ToArray();
        file[GoldenRecord.Length + offsetInRecord] ^= 0x40;
        File.WriteAllBytes(path, file);
        var ex = Assert.Throws<FileFormatException>(() => TensorBoardReader.ReadEvents(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains($"record 1 at byte {GoldenRecord.Length}", ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void TruncatedRecord_IsAnError()
    {
        var ex = Assert.Throws<FileFormatException>(() => TfRecord.ReadAll("cut", GoldenRecord.AsMemory(0, GoldenRecord.Length - 1)));
        Assert.Contains("record 0", ex.Message);
        Assert.Contains("truncated", ex.Message);
        var ex2 = Assert.Throws<FileFormatException>(() => TfRecord.ReadAll("cut", GoldenRecord.AsMemory(0, 5)));
        Assert.Contains("truncated header", ex2.Message);
    }

    [Fact]
    public void HugeLengthWithValidCrc_IsAnErrorNotACrash()
    {
        var record = new byte[16];
        BitConverter.TryWriteBytes(record.AsSpan(0, 8), ulong.MaxValue - 3);
        BitConverter.TryWriteBytes(record.AsSpan(8, 4), TfRecord.MaskedCrc32C(record.AsSpan(0, 8)));
        var ex = Assert.Throws<FileFormatException>(() => TfRecord.ReadAll("huge", record));
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void MalformedProto_WithValidCrcs_IsAnError()
    {
        // A Value whose length prefix runs past the end of the Summary.
        byte[] payload = [0x2A, 0x02, 0x0A, 0x09];
        var ms = new MemoryStream();
        TfRecord.Write(ms, payload);
        var ex = Assert.Throws<FileFormatException>(() =>
            TensorBoardEvent.Decode(TfRecord.ReadAll("bad", ms.ToArray())[0].Span, "bad", "record 0"));
        Assert.Contains("record 0", ex.Message);
        Assert.Contains("length-delimited field of 9 bytes", ex.Message);
    }
}
