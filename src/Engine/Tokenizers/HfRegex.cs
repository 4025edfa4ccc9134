using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tokenizers;

/// <summary>The Oniguruma / fancy-regex patterns of HF pre-tokenizers run with .NET Regex. The constructs these
/// patterns use (\p{L}, \p{N}, \s, (?i:…), (?!…), classes, {m,n}) mean the same in .NET, with two differences that are
/// handled here: \x{HHHH} is rewritten as \uHHHH (or refused above U+FFFF), and .NET matches UTF-16 code units, so a
/// character outside the BMP would be two "characters" of category Cs. Text holding surrogates is therefore matched
/// through a shadow string in which each such character is one BMP stand-in of the same class (a letter, a digit, or a
/// symbol), and match positions are mapped back. Possessive quantifiers and anything else .NET does not parse are
/// refused, naming the pattern.</summary>
internal sealed class HfRegex
{
    /// <summary>GPT-2's pre-tokenizer regex (ByteLevel with use_regex).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Regex _regex;

    public HfRegex(string pattern, Func<string, Exception> refuse)
    {
        Pattern = pattern;
        if (Regex.IsMatch(pattern, @"(?:(?<!\\)[*+?]|(?<!\\p)\{\d+(?:,\d*)?\})\+"))
            throw refuse($"possessive quantifiers are not supported in the pattern {pattern}");
        string translated = Regex.Replace(pattern, @"\\x\{([0-9A-Fa-f]{1,6})\}", m =>
        {
            int cp = int.Parse(m.Groups[1].Value, NumberStyles.HexNumber);
            if (cp > 0xFFFF) throw refuse($"\\x{{{m.Groups[1].Value}}} above U+FFFF is not supported in the pattern {pattern}");
            return $"\\u{cp:X4}";
        });
        try { _regex = new Regex(translated, RegexOptions.Compiled | RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw refuse($"the pattern {pattern} is not supported ({e.Message})"); }
    }

    /// <summary>The pattern as written in the file.</summary>
    public string Pattern { get; }

    /// <summary>Match ranges in <paramref name="text"/> (UTF-16 indices), in order; empty matches are skipped.</summary>
    public List<(int Start, int End)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogate(text))
        {
            foreach (var m in _regex.EnumerateMatches(text))
                if (m.Length > 0) result.Add((m.Index, m.Index + m.Length));
            return result;
        }
        var (shadow, origin) = Shadow(text);
        foreach (var m in _regex.EnumerateMatches(shadow))
            if (m.Length > 0) result.Add((origin[m.Index], origin[m.Index + m.Length]));
        return result;
    }

    private static bool HasSurrogate(string s)
    {
        foreach (char c in s) if (char.IsSurrogate(c)) return true;
        return false;
    }

    /// <summary>Each supplementary character (or lone surrogate) as one BMP char of the same regex class;
    /// origin[i] is the index in <paramref name="text"/> of shadow char i (origin[^1] = text.Length).</summary>
    private static (string Shadow, int[] Origin) Shadow(string text)
    {
        var sb = new StringBuilder(text.Length);
        var origin = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            origin.Add(i);
            if (!char.IsSurrogate(text[i])) { sb.Append(text[i]); i++; continue; }
            int n = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            var category = n == 2 ? CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])) : UnicodeCategory.Surrogate;
            sb.Append(category switch
            {
                UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                    or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => '\u4E00',
                UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '\u0660',
                UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => '\u0300',
                _ => '\u00A9',
            });
            i += n;
        }
        origin.Add(text.Length);
        return (sb.ToString(), origin.ToArray());
    }
}
