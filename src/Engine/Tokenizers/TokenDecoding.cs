using System.Buffers;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>Decoding a whole id sequence through <see cref="ITokenizer.AppendDecodedBytes"/>: the bytes of every token
/// joined, then read as UTF-8 once, so characters split across byte tokens come out whole.</summary>
internal static class TokenDecoding
{
    public static string Decode(ITokenizer tokenizer, IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new ArrayBufferWriter<byte>(ids.Count * 4 + 16);
        bool atStart = true;
        for (int i = 0; i < ids.Count; i++) tokenizer.AppendDecodedBytes(ids[i], ref atStart, bytes);
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }
}
