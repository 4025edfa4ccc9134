using System.Buffers.Binary;
using System.IO.Compression;

namespace Engine.Formats;

/// <summary>Minimal PNG writer: 8-bit RGB, no interlace, filter type 0 on every row, one IDAT chunk. Enough for plots,
/// whose large flat areas deflate well without per-row filtering.</summary>
internal static class PngEncoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <param name="rgb">Rows top to bottom, 3 bytes per pixel, no padding.</param>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        int stride = checked(width * 3);
        if (rgb.Length != checked(stride * height))
            throw new ArgumentException($"{rgb.Length} bytes given for a {width}x{height} RGB image ({stride * height} expected)", nameof(rgb));

        using var png = new MemoryStream();
        png.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: truecolour
        ihdr[10] = 0; // compression: deflate
        ihdr[11] = 0; // filter method 0
        ihdr[12] = 0; // no interlace
        WriteChunk(png, "IHDR"u8, ihdr);

        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.Optimal, leaveOpen: true))
        {
            ReadOnlySpan<byte> noFilter = [0];
            for (int y = 0; y < height; y++)
            {
                z.Write(noFilter);
                z.Write(rgb.Slice(y * stride, stride));
            }
        }
        WriteChunk(png, "IDAT"u8, idat.GetBuffer().AsSpan(0, (int)idat.Length));
        WriteChunk(png, "IEND"u8, []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(type);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Ieee.Append(Crc32.Ieee.Compute(type), data));
        output.Write(word);
    }
}
