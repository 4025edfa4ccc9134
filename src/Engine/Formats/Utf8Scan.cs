using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Engine.Formats;

/// <summary>Where UTF-8 text stops being valid, for errors that name the byte (JSON files, data files).</summary>
internal static class Utf8Scan
{
    /// <summary>Index of the first byte that is not part of valid UTF-8, or −1. When <paramref name="isFinal"/> is false a
    /// sequence cut off at the end is not an error (more bytes follow).</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> bytes, bool isFinal = true)
    {
        if (Utf8.IsValid(bytes)) return -1;
        int i = 0;
        while (i < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[i..], out _, out int used);
            if (status == OperationStatus.Done) { i += used; continue; }
            if (status == OperationStatus.NeedMoreData && !isFinal) return -1;
            return i;
        }
        return -1;
    }
}
