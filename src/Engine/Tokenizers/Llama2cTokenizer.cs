using System.Buffers.Binary;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>A llama2.c tokenizer.bin (written by llama2.c tokenizer.py export, read by run.c build_tokenizer): int32
/// max_token_length, then per token float32 score, int32 byte length and the UTF-8 bytes. The file stores ' ' for '▁'
/// and "\n&lt;s&gt;\n" / "\n&lt;/s&gt;\n" for BOS/EOS; pieces are mapped back to SentencePiece form on load. It stores no
/// token types: id 0 is unk, 1 and 2 are BOS/EOS (control), "&lt;0xXX&gt;" pieces are bytes, the rest normal.</summary>
internal sealed class Llama2cTokenizer : VocabularyTokenizer
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private Llama2cTokenizer(TokenVocabulary vocab, int maxTokenLength) : base(vocab) => MaxTokenLength = maxTokenLength;

    /// <summary>The header's max_token_length (longest piece in bytes, as llama2.c sizes its merge buffer).</summary>
    public int MaxTokenLength { get; }

    /// <param name="vocabSize">The model's vocab_size (the file does not store it); when given, the file must hold
    /// exactly that many tokens. When null, every token in the file is read.</param>
    public static Llama2cTokenizer Load(string path, int? vocabSize = null)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FileFormatException(path, "tokenizer.bin", $"cannot read the file: {e.Message}", e);
        }
        return Parse(data, path, vocabSize);
    }

    internal static Llama2cTokenizer Parse(ReadOnlySpan<byte> data, string path, int? vocabSize)
    {
        if (data.Length < 4) throw new FileFormatException(path, "header", $"file is {data.Length} bytes, shorter than the int32 max_token_length");
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength <= 0) throw new FileFormatException(path, "max_token_length", $"{maxTokenLength} is not positive");

        var pieces = new List<string>(vocabSize ?? 1024);
        var scores = new List<float>(vocabSize ?? 1024);
        int pos = 4;
        while (pos < data.Length)
        {
            int i = pieces.Count;
            if (data.Length - pos < 8)
                throw new FileFormatException(path, $"token {i}", $"truncated: {data.Length - pos} bytes left at byte {pos}, need 8 for score and length");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data[pos..]);
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 4)..]);
            pos += 8;
            if (length <= 0 || length > data.Length - pos)
                throw new FileFormatException(path, $"token {i}", $"byte length {length} at byte {pos - 4} is not in 1..{data.Length - pos} (bytes left)");
            string text;
            try { text = StrictUtf8.GetString(data.Slice(pos, length)); }
            catch (DecoderFallbackException) { throw new FileFormatException(path, $"token {i}", $"piece at byte {pos} is not valid UTF-8"); }
            pos += length;
            pieces.Add(ToSentencePiece(i, text));
            scores.Add(score);
        }
        if (vocabSize is int expected && pieces.Count != expected)
            throw new FileFormatException(path, "vocabulary size", $"file holds {pieces.Count} tokens but the model's vocab_size is {expected}");
        if (pieces.Count < 3)
            throw new FileFormatException(path, "vocabulary size", $"file holds {pieces.Count} tokens; llama2.c needs at least unk, bos and eos (ids 0..2)");

        var kinds = new TokenKind[pieces.Count];
        int byteCount = 0;
        for (int i = 0; i < kinds.Length; i++)
        {
            kinds[i] = i switch
            {
                0 => TokenKind.Unknown,
                1 or 2 => TokenKind.Control,
                _ when TokenVocabulary.TryParseBytePiece(pieces[i], out _) => TokenKind.Byte,
                _ => TokenKind.Normal,
            };
            if (kinds[i] == TokenKind.Byte) byteCount++;
        }
        var vocab = new TokenVocabulary(path, pieces.ToArray(), scores.ToArray(), kinds, unkId: 0, bosId: 1, eosId: 2, padId: -1,
            addDummyPrefix: true, removeExtraWhitespaces: false, byteFallback: byteCount == 256);
        return new Llama2cTokenizer(vocab, maxTokenLength);
    }

    /// <summary>Undoes tokenizer.py's export mapping so that pieces read the same as in tokenizer.model.</summary>
    private static string ToSentencePiece(int id, string stored)
    {
        if (id is 1 or 2 && stored.Length > 2 && stored[0] == '\n' && stored[^1] == '\n') return stored[1..^1];
        return stored.Replace(' ', SpmNormalizer.Space);
    }
}
