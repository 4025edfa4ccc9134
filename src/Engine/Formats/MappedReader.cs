using System.Buffers.Binary;
using System.Text;

namespace Engine.Formats;

/// <summary>A forward cursor over a <see cref="MappedFile"/> for parsing headers: every read is bounds-checked and a
/// short file is reported with the item being read, its offset and the file length.</summary>
internal sealed class MappedReader(MappedFile file)
{
    public long Position { get; set; }
    public long Remaining => file.Length - Position;
    public string Path => file.Path;

    public ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw new FileFormatException(file.Path, what, $"needs {count} bytes at offset {Position} but the file ends at {file.Length}");
        var span = file.Span(Position, count, what);
        Position += count;
        return span;
    }

    public byte U8(string what) => Take(1, what)[0];
    public ushort U16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
    public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>A GGUF string: uint64 byte length, then UTF-8 without a terminator. Invalid UTF-8 is refused (the spec
    /// requires UTF-8; decoding it with replacement characters would silently change a vocabulary's tokens).</summary>
    public string String(string what)
    {
        ulong n = U64(what + " length");
        if (n > (ulong)Remaining)
            throw new FileFormatException(file.Path, what, $"length {n} at offset {Position - 8} runs past the end of the file ({Remaining} bytes left)");
        long at = Position;
        var bytes = Take((long)n, what);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new FileFormatException(file.Path, what, $"the {n}-byte string at offset {at} is not valid UTF-8");
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Rejects a count of items that could not fit in the rest of the file even at their smallest size.</summary>
    public void CheckCount(ulong count, int minItemBytes, string what)
    {
        if (minItemBytes > 0 && count > (ulong)(Remaining / minItemBytes))
            throw new FileFormatException(file.Path, what, $"count {count} cannot fit in the {Remaining} bytes left after offset {Position}");
    }
}
