using System.Buffers.Binary;
using System.IO.Compression;
using Engine.Formats;
using Engine.Training.Metrics;

namespace Engine.Tests.Training;

/// <summary>Decodes the PNGs <see cref="PngEncoder"/> writes (8-bit RGB, filter 0), checking everything it reads.</summary>
internal sealed class PngTestDecoder
{
    public int Width { get; private init; }
    public int Height { get; private init; }
    public List<string> ChunkTypes { get; } = [];
    private byte[] _rgb = [];

    public Rgb this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]);
        }
    }

    public static PngTestDecoder Decode(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int pos = 8, width = 0, height = 0;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length));
            Assert.Equal(Crc32.Ieee.Compute(png.AsSpan(pos + 4, 4 + length)), stored);
            types.Add(type);
            if (type == "IHDR")
            {
                Assert.Equal(13, length);
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, data[8..].ToArray());
            }
            else if (type == "IDAT") idat.Write(data);
            pos += 12 + length;
        }
        Assert.Equal(png.Length, pos);
        Assert.Equal("IHDR", types[0]);
        Assert.Equal("IEND", types[^1]);

        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        int stride = width * 3;
        Assert.Equal((stride + 1) * height, raw.Length);
        var bytes = raw.ToArray();
        var rgb = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, bytes[y * (stride + 1)]);
            Array.Copy(bytes, y * (stride + 1) + 1, rgb, y * stride, stride);
        }
        var decoded = new PngTestDecoder { Width = width, Height = height, _rgb = rgb };
        decoded.ChunkTypes.AddRange(types);
        return decoded;
    }
}
