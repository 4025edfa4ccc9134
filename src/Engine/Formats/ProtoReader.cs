using System.Buffers.Binary;
using System.Text;

namespace Engine.Formats;

/// <summary>Protobuf wire types (the low 3 bits of a field tag).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>The protobuf wire-format reader (SentencePiece tokenizer.model, TensorBoard events) over one message's
/// bytes. Every read is bounds-checked; a malformed message becomes a <see cref="FileFormatException"/> naming the
/// file, the message being read and the byte offset. Groups (wire types 3 and 4) are rejected.</summary>
internal ref struct ProtoReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _path;
    private readonly int _baseOffset;
    private int _pos;

    /// <param name="baseOffset">Offset of <paramref name="data"/> in the file, so that errors give file offsets.</param>
    public ProtoReader(ReadOnlySpan<byte> data, string path, string message, int baseOffset = 0)
    {
        _data = data;
        _path = path;
        _baseOffset = baseOffset;
        Message = message;
        _pos = 0;
    }

    /// <summary>The message or field being read, used in error messages ("ModelProto.pieces[7]").</summary>
    public string Message { get; }

    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>File offset of the next byte to read.</summary>
    public readonly int Offset => _baseOffset + _pos;

    public (int Field, WireType Wire) ReadTag()
    {
        int at = Offset;
        ulong tag = ReadVarint();
        ulong field = tag >> 3;
        var wire = (WireType)(tag & 7);
        if (field == 0 || field > int.MaxValue)
            throw Error($"invalid field number {field} in tag at byte {at}");
        if (wire is not (WireType.Varint or WireType.Fixed64 or WireType.LengthDelimited or WireType.Fixed32))
            throw Error($"unsupported wire type {(int)wire} for field {field} at byte {at}");
        return ((int)field, wire);
    }

    public ulong ReadVarint()
    {
        int at = Offset;
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Error($"truncated varint at byte {at}");
            byte b = _data[_pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw Error($"varint longer than 10 bytes at byte {at}");
    }

    /// <summary>A proto int32: negative values are written sign-extended to 64 bits, so truncation recovers them.</summary>
    public int ReadInt32() => unchecked((int)(long)ReadVarint());

    /// <summary>A proto int64: a plain (not zig-zag) varint.</summary>
    public long ReadInt64() => unchecked((long)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "fixed32"));

    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "fixed64"));

    public float ReadFloat() => BitConverter.UInt32BitsToSingle(ReadFixed32());

    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadFixed64());

    /// <summary>Reads a length-delimited field; <paramref name="start"/> is its file offset (for nested readers).</summary>
    public ReadOnlySpan<byte> ReadBytes(out int start)
    {
        int at = Offset;
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos))
            throw Error($"length-delimited field of {len} bytes at byte {at} runs past the end of the message ({_data.Length - _pos} bytes left)");
        start = Offset;
        var slice = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return slice;
    }

    /// <summary>A proto string, which must be valid UTF-8.</summary>
    public string ReadString()
    {
        var bytes = ReadBytes(out int start);
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw Error($"string at byte {start} is not valid UTF-8"); }
    }

    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed32: Take(4, "fixed32"); break;
            case WireType.Fixed64: Take(8, "fixed64"); break;
            case WireType.LengthDelimited: ReadBytes(out _); break;
            default: throw Error($"cannot skip wire type {(int)wire}");
        }
    }

    /// <summary>Throws unless <paramref name="actual"/> is the wire type the schema gives the field.</summary>
    public readonly void Expect(int field, WireType actual, WireType expected)
    {
        if (actual != expected)
            throw Error($"field {field} has wire type {actual}, expected {expected}");
    }

    public readonly FileFormatException Error(string problem) => new(_path, Message, problem);

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (_data.Length - _pos < count) throw Error($"truncated {what} at byte {Offset}");
        var span = _data.Slice(_pos, count);
        _pos += count;
        return span;
    }
}
