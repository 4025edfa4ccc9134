using Engine.Formats;

namespace Engine.Tests.Formats;

/// <summary>The one protobuf codec (<see cref="ProtoWriter"/>, <see cref="ProtoReader"/>) on its own; the SentencePiece
/// and TensorBoard tests cover the schemas built on it.</summary>
public class ProtoCodecTests
{
    [Fact]
    public void Writer_EncodesEachWireType_ByteForByte()
    {
        var w = new ProtoWriter();
        w.Varint(1, 300);          // 08 AC 02
        w.Int32(2, -1);            // 10 + ten bytes
        w.Bool(3, true);           // 18 01
        w.Float(4, 1f);            // 25 00 00 80 3F
        w.Double(5, 1.5);          // 29 00 00 00 00 00 00 F8 3F
        w.String(6, "hé");         // 32 03 68 C3 A9
        var inner = new ProtoWriter();
        inner.Int64(1, 7);
        w.Message(16, inner);      // field 16 takes a two-byte tag: 82 01, then 02 08 07
        Assert.Equal(
            "08ac02" + "10ffffffffffffffffff01" + "1801" + "250000803f" + "29000000000000f83f" + "3203" + "68c3a9" + "820102" + "0807",
            Convert.ToHexStringLower(w.ToArray()));
    }

    [Fact]
    public void Reader_ReadsBackWhatTheWriterWrote()
    {
        var inner = new ProtoWriter();
        inner.String(1, "piece");
        var w = new ProtoWriter();
        w.Int32(1, -5);
        w.Int64(2, long.MinValue);
        w.Float(3, -0.25f);
        w.Double(4, Math.PI);
        w.Varint(9, 123);            // unknown to the schema below: skipped
        w.Message(5, inner);
        byte[] bytes = w.ToArray();

        var r = new ProtoReader(bytes, "mem", "Test");
        Assert.Equal((1, WireType.Varint), r.ReadTag()); Assert.Equal(-5, r.ReadInt32());
        Assert.Equal((2, WireType.Varint), r.ReadTag()); Assert.Equal(long.MinValue, r.ReadInt64());
        Assert.Equal((3, WireType.Fixed32), r.ReadTag()); Assert.Equal(-0.25f, r.ReadFloat());
        Assert.Equal((4, WireType.Fixed64), r.ReadTag()); Assert.Equal(Math.PI, r.ReadDouble());
        var (field, wire) = r.ReadTag();
        Assert.Equal(9, field);
        r.Skip(wire);
        Assert.Equal((5, WireType.LengthDelimited), r.ReadTag());
        var nestedBytes = r.ReadBytes(out int start);
        Assert.True(r.AtEnd);
        var nested = new ProtoReader(nestedBytes, "mem", "Test.inner", start);
        Assert.Equal(start, nested.Offset);
        Assert.Equal((1, WireType.LengthDelimited), nested.ReadTag());
        Assert.Equal("piece", nested.ReadString());
        Assert.True(nested.AtEnd);
    }

    [Fact]
    public void NestedReader_ReportsFileOffsets()
    {
        // The nested message starts at file offset 2 (after tag 0A and length 01): a fixed32 tag and no payload.
        byte[] bytes = [0x0A, 0x01, 0x15];
        var r = new ProtoReader(bytes, "f.bin", "Outer");
        r.ReadTag();
        var inner = new ProtoReader(r.ReadBytes(out int start), "f.bin", "Outer.inner", start);
        Assert.Equal((2, WireType.Fixed32), inner.ReadTag());
        Assert.Equal("f.bin: Outer.inner: truncated fixed32 at byte 3", Caught(ref inner, static (ref ProtoReader p) => p.ReadFixed32()));
    }

    [Fact]
    public void Expect_NamesFieldAndBothWireTypes()
    {
        var r = new ProtoReader([0x08, 0x01], "f.bin", "Msg");
        var (field, wire) = r.ReadTag();
        Assert.Equal("f.bin: Msg: field 1 has wire type Varint, expected LengthDelimited",
            Caught(ref r, (ref ProtoReader p) => p.Expect(field, wire, WireType.LengthDelimited)));
    }

    private delegate void ReaderAction(ref ProtoReader reader);

    /// <summary>The message of the <see cref="FileFormatException"/> the action throws (a ref struct cannot be
    /// captured by Assert.Throws' lambda).</summary>
    private static string Caught(ref ProtoReader reader, ReaderAction action)
    {
        try { action(ref reader); }
        catch (FileFormatException e) { return e.Message; }
        throw new Xunit.Sdk.XunitException("expected a FileFormatException");
    }
}
