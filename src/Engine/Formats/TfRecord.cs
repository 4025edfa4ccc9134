using System.Buffers.Binary;

namespace Engine.Formats;

/// <summary>TFRecord framing: uint64 LE length, uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked
/// CRC-32C of the data.</summary>
internal static class TfRecord
{
    public const int HeaderSize = 12;
    public const int FooterSize = 4;

    /// <summary>TensorFlow masks stored CRCs because a CRC of data that itself embeds CRCs is weak.</summary>
    public static uint MaskCrc(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    public static uint MaskedCrc32C(ReadOnlySpan<byte> data) => MaskCrc(Crc32.Castagnoli.Compute(data));

    public static void Write(Stream stream, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc32C(header[..8]));
        Span<byte> footer = stackalloc byte[FooterSize];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc32C(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>Splits a whole file's bytes into record payloads, checking both CRCs of every record.</summary>
    public static List<ReadOnlyMemory<byte>> ReadAll(string path, ReadOnlyMemory<byte> file)
    {
        var records = new List<ReadOnlyMemory<byte>>();
        var span = file.Span;
        long offset = 0;
        for (int index = 0; offset < span.Length; index++)
        {
            string what = $"record {index} at byte {offset}";
            long left = span.Length - offset;
            if (left < HeaderSize)
                throw new FileFormatException(path, what, $"truncated header: {left} bytes left, a record header needs {HeaderSize}");
            var header = span.Slice((int)offset, HeaderSize);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            uint storedLengthCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            uint lengthCrc = MaskedCrc32C(header[..8]);
            if (storedLengthCrc != lengthCrc)
                throw new FileFormatException(path, what, $"length CRC mismatch: stored 0x{storedLengthCrc:X8}, computed 0x{lengthCrc:X8}");
            if (left < HeaderSize + FooterSize || length > (ulong)(left - HeaderSize - FooterSize))
                throw new FileFormatException(path, what, $"truncated: length field says {length} data bytes + {FooterSize} CRC bytes, {left - HeaderSize} bytes left");
            int dataStart = (int)offset + HeaderSize;
            var data = file.Slice(dataStart, (int)length);
            uint storedDataCrc = BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(dataStart + (int)length, FooterSize));
            uint dataCrc = MaskedCrc32C(data.Span);
            if (storedDataCrc != dataCrc)
                throw new FileFormatException(path, what, $"data CRC mismatch: stored 0x{storedDataCrc:X8}, computed 0x{dataCrc:X8}");
            records.Add(data);
            offset += HeaderSize + (long)length + FooterSize;
        }
        return records;
    }
}
