using Engine.Tokenizers;
using static Engine.Tests.Tokenizers.TinyVocab;

namespace Engine.Tests.Tokenizers;

/// <summary>The merge rules of the shared encoder on hand-made vocabularies, where the right answer is worked out by
/// hand.</summary>
public class BpeEncoderTests
{
    [Fact]
    public void EqualScores_MergeTheLeftmostPairFirst()
    {
        var t = Create(false, false, N("a"), N("b"), N("ab", 1), N("ba", 1));
        // "aba": pairs ab(0) and ba(1) tie; leftmost wins, leaving "ab","a".
        Assert.Equal(["ab", "a"], Pieces(t, "aba"));
        Assert.Equal(["ba", "b"], Pieces(t, "bab"));
    }

    [Fact]
    public void HigherScore_WinsOverPosition()
    {
        var t = Create(false, false, N("a"), N("b"), N("c"), N("ab", 1), N("bc", 2));
        Assert.Equal(["a", "bc"], Pieces(t, "abc"));
    }

    [Fact]
    public void Merges_ChainIntoLongerPieces()
    {
        // a+b (score 3) first, then ab+c (score 1) even though b+c (2) outranks it on the original symbols.
        var t = Create(false, false, N("a"), N("b"), N("c"), N("ab", 3), N("bc", 2), N("abc", 1));
        Assert.Equal(["abc"], Pieces(t, "abc"));
        Assert.Equal(["abc", "abc"], Pieces(t, "abcabc"));
    }

    [Fact]
    public void DummyPrefix_IsPrependedToNonEmptyTextOnly_AndSpacesBecomeMeta()
    {
        var t = Create(false, true, N("▁"), N("a"), N("▁a", 1), N("▁▁", 2));
        Assert.Empty(t.Encode(""));
        Assert.Equal(["▁a"], Pieces(t, "a"));
        // " a" -> "▁▁a": ▁▁ (2) beats ▁a (1).
        Assert.Equal(["▁▁", "a"], Pieces(t, " a"));
        Assert.Equal(["▁a", "▁a"], Pieces(t, "a a"));
    }

    [Fact]
    public void CharacterWithoutPiece_FallsBackToItsUtf8Bytes()
    {
        var t = Create(true, false, N("a"));
        // 'é' = C3 A9; '😀' = F0 9F 98 80 (a surrogate pair in UTF-16).
        Assert.Equal(["a", "<0xC3>", "<0xA9>"], Pieces(t, "aé"));
        Assert.Equal(["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"], Pieces(t, "😀"));
        // A lone surrogate has no UTF-8 form: it falls back as U+FFFD (EF BF BD).
        Assert.Equal(["<0xEF>", "<0xBF>", "<0xBD>", "a"], Pieces(t, "\uD800a"));
    }

    [Fact]
    public void WithoutByteFallback_UnknownCharactersBecomeUnk()
    {
        var t = Create(false, false, N("a"));
        Assert.Equal([3, 0, 0, 3], t.Encode("aé😀a"));
    }

    [Fact]
    public void ControlAndBytePieces_AreNeverMatchedFromText()
    {
        var t = Create(true, false, N("<"), N("s"), N(">"), N("<s", 1), N("0"), N("x"), N("4"), N("1"),
            N("<0", 5), N("<0x", 4), N("<0x4", 3), N("<0x41", 2));
        // Merging stops short of the control piece "<s>" and the byte piece "<0x41>".
        Assert.Equal(["<s", ">"], Pieces(t, "<s>"));
        Assert.Equal(["<0x41", ">"], Pieces(t, "<0x41>"));
    }

    [Fact]
    public void UserDefinedPieces_AreMatchedWholeAndNotMergedFurther()
    {
        var t = Create(false, false, N("a"), N("b"), ("ab", 0, TokenKind.UserDefined), N("ba", 5), N("aba", 6));
        // "aba" is split as user-defined "ab" then "a" before any merge; "ba"/"aba" would otherwise win.
        Assert.Equal(["ab", "a"], Pieces(t, "aba"));
        Assert.Equal(["b", "ab"], Pieces(t, "bab"));
    }

    [Fact]
    public void UnusedPieces_CanBeMergedThroughButAreSplitBackIfTheyRemain()
    {
        var t = Create(false, false, N("a"), N("b"), N("c"), N("d"), ("ab", 3, TokenKind.Unused), N("abc", 2));
        Assert.Equal(["abc"], Pieces(t, "abc"));
        Assert.Equal(["a", "b", "d"], Pieces(t, "abd"));
    }

    [Fact]
    public void RemoveExtraWhitespaces_DropsOuterSpacesAndCollapsesRuns()
    {
        var t = Create(false, true, removeExtraWhitespaces: true, N("▁"), N("a"), N("b"), N("▁a", 1), N("▁b", 1), N("▁▁", 2));
        Assert.Equal(["▁a", "▁b"], Pieces(t, "  a   b  "));
        Assert.Empty(t.Encode("   "));
        Assert.Equal(
            [new TokenSpan(t.PieceToId("▁a"), 2, 1), new TokenSpan(t.PieceToId("▁b"), 3, 4)],
            t.EncodeWithSpans("  a   b  "));
    }
}
