using System.Text;

namespace Engine.Tests.Formats;

/// <summary>Builds .safetensors files byte by byte, so tests control every header field (including broken ones).</summary>
internal static class SafeTensorsFixtures
{
    public static string Raw(string path, string headerJson, byte[] data, ulong? headerLengthOverride = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes(headerLengthOverride ?? (ulong)header.Length));
        s.Write(header);
        s.Write(data);
        return path;
    }
}
