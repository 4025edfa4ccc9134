using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Engine.Formats;

/// <summary>The protobuf wire-format writer (SentencePiece tokenizer.model, TensorBoard events). A nested message is
/// written into its own writer and added with <see cref="Message"/>, so no sizes are computed up front. Fields are
/// written in call order; leaving out proto3 defaults is the caller's choice.</summary>
internal sealed class ProtoWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void Varint(int field, ulong value)
    {
        Tag(field, WireType.Varint);
        RawVarint(value);
    }

    /// <summary>int32 sign-extended to 64 bits, as protobuf specifies: negative values take 10 bytes.</summary>
    public void Int32(int field, int value) => Varint(field, unchecked((ulong)(long)value));

    /// <summary>int64 as a plain (not zig-zag) varint: negative values take 10 bytes.</summary>
    public void Int64(int field, long value) => Varint(field, unchecked((ulong)value));

    public void Bool(int field, bool value) => Varint(field, value ? 1UL : 0UL);

    public void Float(int field, float value)
    {
        Tag(field, WireType.Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void Double(int field, double value)
    {
        Tag(field, WireType.Fixed64);
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireType.LengthDelimited);
        RawVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    public void String(int field, string value)
    {
        int count = Encoding.UTF8.GetByteCount(value);
        Tag(field, WireType.LengthDelimited);
        RawVarint((ulong)count);
        _buffer.Advance(Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count)));
    }

    public void Message(int field, ProtoWriter message) => Bytes(field, message.WrittenSpan);

    private void Tag(int field, WireType wire) => RawVarint(((ulong)field << 3) | (uint)wire);

    private void RawVarint(ulong value)
    {
        var span = _buffer.GetSpan(10);
        int n = 0;
        while (value >= 0x80) { span[n++] = (byte)(value | 0x80); value >>= 7; }
        span[n++] = (byte)value;
        _buffer.Advance(n);
    }
}
