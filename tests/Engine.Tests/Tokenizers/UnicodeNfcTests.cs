using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>Engine's NFC against Python's unicodedata.normalize("NFC", ...) (values printed by CPython 3.11, Unicode
/// 14): composition, Hangul, singletons, exclusions, canonical reordering, astral code points.</summary>
public class UnicodeNfcTests
{
    public static TheoryData<string, string> Cases => new()
    {
        { "e\u0301", "\u00E9" },
        { "\u1100\u1161\u11A8", "\uAC01" },
        { "\u212B", "\u00C5" },
        { "a\u0302\u0323", "\u1EAD" },
        { "\u0344", "\u0308\u0301" },
        { "\u1E9B\u0323", "\u1E9B\u0323" },
        { "\u0958", "\u0915\u093C" },
        { "\U0001D15E", "\U0001D157\U0001D165" },
        { "\uAC00\u11A8", "\uAC01" },
        { "q\u0307\u0323", "q\u0323\u0307" },
        { "\u00C5\u0301", "\u01FA" },
        { "a\u0315\u0300\u05AE\u0300b", "\u00E0\u05AE\u0300\u0315b" },
        { "caf\u00E9 na\u00EFve", "caf\u00E9 na\u00EFve" },
        { "A\u030A\u0301", "\u01FA" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Normalize_EqualsPython(string input, string expected) => Assert.Equal(expected, UnicodeNfc.Normalize(input));

    [Fact]
    public void AsciiAndComposedText_IsLeftAlone()
    {
        Assert.True(UnicodeNfc.IsSurelyNormalized("plain ascii text"));
        Assert.Equal("你好，世界", UnicodeNfc.Normalize("你好，世界"));
    }
}
