namespace Engine.Formats;

/// <summary>Table-driven reflected CRC-32 (initial value and final XOR 0xFFFFFFFF). Two polynomials are used by the
/// sinks: IEEE 802.3 for PNG chunks and Castagnoli (CRC-32C) for TFRecord framing. Owned here because the BCL's public
/// CRC-32 lives in System.IO.Hashing, which the project does not reference.</summary>
internal sealed class Crc32
{
    /// <summary>CRC-32 of zlib/PNG (reflected polynomial 0xEDB88320); check value of "123456789" is 0xCBF43926.</summary>
    public static readonly Crc32 Ieee = new(0xEDB88320u);

    /// <summary>CRC-32C (reflected polynomial 0x82F63B78); check value of "123456789" is 0xE3069283.</summary>
    public static readonly Crc32 Castagnoli = new(0x82F63B78u);

    private readonly uint[] _table = new uint[256];

    private Crc32(uint reflectedPolynomial)
    {
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ reflectedPolynomial : c >> 1;
            _table[i] = c;
        }
    }

    public uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC over more bytes: Append(Compute(a), b) == Compute(a ++ b).</summary>
    public uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        var table = _table;
        foreach (byte b in data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }
}
