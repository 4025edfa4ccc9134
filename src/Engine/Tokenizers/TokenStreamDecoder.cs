using System.Buffers;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>Turns tokens into text one at a time as they are generated. A multi-byte character split over several
/// byte-fallback or byte-level tokens is held back until its last byte arrives; invalid byte sequences become U+FFFD. The
/// concatenation of every <see cref="Append"/> result and <see cref="Flush"/> equals <see cref="ITokenizer.Decode"/> of
/// the whole sequence.</summary>
internal sealed class TokenStreamDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly ArrayBufferWriter<byte> _bytes = new(64);
    private char[] _chars = new char[64];
    private bool _atStart = true;

    /// <summary>Each token's bytes come from <see cref="ITokenizer.AppendDecodedBytes"/>, so the start-of-text rule
    /// (the dummy prefix's space) is the tokenizer's own.</summary>
    public TokenStreamDecoder(ITokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>The text completed by <paramref name="id"/>; empty for control tokens and for bytes of an unfinished
    /// character.</summary>
    public string Append(int id)
    {
        _bytes.ResetWrittenCount();
        _tokenizer.AppendDecodedBytes(id, ref _atStart, _bytes);
        return DecodeChunk(_bytes.WrittenSpan, flush: false);
    }

    /// <summary>Ends the stream: bytes of an unfinished character come out as U+FFFD. The decoder can then be reused
    /// for a new sequence.</summary>
    public string Flush()
    {
        string rest = DecodeChunk([], flush: true);
        _atStart = true;
        return rest;
    }

    private string DecodeChunk(ReadOnlySpan<byte> bytes, bool flush)
    {
        // Pending bytes (at most 3) can each become a U+FFFD, so leave room for them.
        int max = bytes.Length + 4;
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
