using System.Buffers;
using System.Text;

namespace Engine.Tokenizers;

/// <summary>The UTF-8 bytes one token contributes to decoded text, shared by <see cref="VocabularyTokenizer.Decode"/>
/// and <see cref="TokenStreamDecoder"/> so that both give the same text.</summary>
internal static class PieceBytes
{
    /// <summary>Appends the bytes of <paramref name="id"/>: nothing for control tokens, the raw byte for &lt;0xXX&gt;
    /// pieces, the piece's text with '▁' as ' ' otherwise (unknown tokens decode to their piece, e.g. "&lt;unk&gt;").
    /// <paramref name="atStart"/> is true until the first token that produces text; that token loses one leading '▁'
    /// when <paramref name="removeDummyPrefix"/> is set, because encoding put it there.</summary>
    public static void Append(ITokenizer tokenizer, int id, bool removeDummyPrefix, ref bool atStart, IBufferWriter<byte> output)
    {
        var kind = tokenizer.Kind(id);
        if (kind == TokenKind.Control) return;
        string piece = tokenizer.IdToPiece(id);
        if (kind == TokenKind.Byte && TokenVocabulary.TryParseBytePiece(piece, out byte b))
        {
            output.GetSpan(1)[0] = b;
            output.Advance(1);
            atStart = false;
            return;
        }
        var text = piece.AsSpan();
        if (atStart && removeDummyPrefix && text.Length > 0 && text[0] == SpmNormalizer.Space) text = text[1..];
        atStart = false;
        var dest = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        int written = Encoding.UTF8.GetBytes(text, dest);
        // '▁' (U+2581) is E2 96 81 in UTF-8; rewrite each occurrence as a single space byte.
        int w = 0;
        for (int r = 0; r < written; r++)
        {
            if (r + 2 < written && dest[r] == 0xE2 && dest[r + 1] == 0x96 && dest[r + 2] == 0x81)
            {
                dest[w++] = (byte)' ';
                r += 2;
            }
            else dest[w++] = dest[r];
        }
        output.Advance(w);
    }
}
