using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>Hand-made vocabularies for encoder tests: id 0 is &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, then (optionally) the 256
/// byte pieces, then the given pieces in order.</summary>
internal static class TinyVocab
{
    public static GgufVocabTokenizer Create(bool byteFallback, bool addDummyPrefix, params (string Piece, float Score, TokenKind Kind)[] entries)
        => Create(byteFallback, addDummyPrefix, removeExtraWhitespaces: false, entries);

    public static GgufVocabTokenizer Create(bool byteFallback, bool addDummyPrefix, bool removeExtraWhitespaces,
        params (string Piece, float Score, TokenKind Kind)[] entries)
    {
        var all = new List<(string Piece, float Score, TokenKind Kind)>
        {
            ("<unk>", 0, TokenKind.Unknown), ("<s>", 0, TokenKind.Control), ("</s>", 0, TokenKind.Control),
        };
        if (byteFallback)
            for (int b = 0; b < 256; b++) all.Add(($"<0x{b:X2}>", 0, TokenKind.Byte));
        all.AddRange(entries);
        return GgufVocabTokenizer.Create("tiny", all.Select(e => e.Piece).ToArray(), all.Select(e => e.Score).ToArray(),
            all.Select(e => (int)e.Kind).ToArray(), bosId: 1, eosId: 2, unkId: 0, padId: -1,
            addSpacePrefix: addDummyPrefix, removeExtraWhitespaces: removeExtraWhitespaces);
    }

    public static (string, float, TokenKind) N(string piece, float score = 0) => (piece, score, TokenKind.Normal);

    public static string[] Pieces(ITokenizer t, string text) => t.Encode(text).Select(t.IdToPiece).ToArray();
}
