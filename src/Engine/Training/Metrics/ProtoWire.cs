using System.Buffers.Binary;
using System.Text;

namespace Engine.Training.Metrics;

/// <summary>The few protobuf wire-format pieces the TensorBoard event encoder needs. Callers compute message sizes up
/// front (<see cref="VarintSize"/>) so nested messages are written in one pass without temporary buffers.</summary>
internal ref struct ProtoWriter
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly Span<byte> _buffer;
    private int _position;

    public ProtoWriter(Span<byte> buffer) { _buffer = buffer; _position = 0; }

    public readonly int Position => _position;

    public static int VarintSize(ulong value)
    {
        int n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }

    public static int TagSize(int field) => VarintSize((ulong)field << 3);

    /// <summary>Size of a length-delimited field holding <paramref name="payloadSize"/> bytes.</summary>
    public static int LengthDelimitedSize(int field, int payloadSize) => TagSize(field) + VarintSize((ulong)payloadSize) + payloadSize;

    public void Varint(ulong value)
    {
        while (value >= 0x80) { _buffer[_position++] = (byte)(value | 0x80); value >>= 7; }
        _buffer[_position++] = (byte)value;
    }

    public void Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    public void Double(int field, double value)
    {
        Tag(field, WireFixed64);
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer[_position..], value);
        _position += 8;
    }

    public void Float(int field, float value)
    {
        Tag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer[_position..], value);
        _position += 4;
    }

    /// <summary>int64 as a plain (not zig-zag) varint: negative values take 10 bytes, as protobuf specifies.</summary>
    public void Int64(int field, long value)
    {
        Tag(field, WireVarint);
        Varint((ulong)value);
    }

    /// <summary>Starts a length-delimited field; the caller then writes exactly <paramref name="payloadSize"/> bytes.</summary>
    public void BeginLengthDelimited(int field, int payloadSize)
    {
        Tag(field, WireLengthDelimited);
        Varint((ulong)payloadSize);
    }

    public void Utf8String(int field, string value)
    {
        BeginLengthDelimited(field, Encoding.UTF8.GetByteCount(value));
        _position += Encoding.UTF8.GetBytes(value, _buffer[_position..]);
    }
}

/// <summary>Reads protobuf fields from one record, turning every malformed length or varint into a
/// <see cref="FileFormatException"/> that names the file and the record.</summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _path;
    private readonly string _what;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data, string path, string what)
    {
        _data = data;
        _path = path;
        _what = what;
        _position = 0;
    }

    public readonly bool AtEnd => _position >= _data.Length;

    public bool TryReadTag(out int field, out int wireType)
    {
        field = wireType = 0;
        if (AtEnd) return false;
        ulong key = Varint();
        field = (int)Math.Min(key >> 3, int.MaxValue);
        wireType = (int)(key & 7);
        if (field == 0) throw Error($"field number 0 at byte {_position}");
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length) throw Error($"varint runs past the end ({_data.Length} bytes)");
            byte b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error($"varint longer than 10 bytes at byte {_position}");
    }

    public double Fixed64Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public float Fixed32Float() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public ReadOnlySpan<byte> LengthDelimited()
    {
        ulong length = Varint();
        if (length > (ulong)(_data.Length - _position))
            throw Error($"length-delimited field of {length} bytes at byte {_position}, only {_data.Length - _position} left");
        return Take((int)length);
    }

    public string Utf8String() => Encoding.UTF8.GetString(LengthDelimited());

    /// <summary>Checks that the field just tagged has the wire type the schema gives it.</summary>
    public readonly void Expect(string fieldName, int wireType, int expected)
    {
        if (wireType != expected) throw Error($"field {fieldName} has wire type {wireType}, expected {expected}");
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case ProtoWriter.WireVarint: Varint(); break;
            case ProtoWriter.WireFixed64: Take(8); break;
            case ProtoWriter.WireLengthDelimited: LengthDelimited(); break;
            case ProtoWriter.WireFixed32: Take(4); break;
            default: throw Error($"unsupported wire type {wireType} at byte {_position}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
            throw Error($"field needs {count} bytes at byte {_position}, only {_data.Length - _position} left");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    private readonly FileFormatException Error(string problem) => new(_path, _what, problem);
}
