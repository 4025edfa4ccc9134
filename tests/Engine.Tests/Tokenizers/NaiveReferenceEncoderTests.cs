using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>Checks the heap-based encoder against a direct transcription of llama2.c's O(n²) encode loop (rescan all
/// pairs, merge the best, repeat) on many short texts.</summary>
public class NaiveReferenceEncoderTests
{
    private static bool Matchable(ITokenizer t, int id) => id >= 0 && t.Kind(id) is TokenKind.Normal or TokenKind.UserDefined or TokenKind.Unused;

    /// <summary>llama2.c encode(): dummy prefix, one token per code point (bytes + fallback when the code point has no
    /// piece), then merge the highest-scoring pair (strictly greater, so the leftmost wins ties) until none is left.</summary>
    private static int[] NaiveEncode(ITokenizer t, string text)
    {
        if (text.Length == 0) return [];
        string s = "▁" + text.Replace(' ', '▁');
        var tokens = new List<(string? Piece, int Id)>();
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1)
        {
            string cp = s.Substring(i, char.IsSurrogatePair(s, i) ? 2 : 1);
            int id = t.PieceToId(cp);
            if (Matchable(t, id)) tokens.Add((cp, id));
            else foreach (byte b in System.Text.Encoding.UTF8.GetBytes(cp)) tokens.Add((null, t.PieceToId($"<0x{b:X2}>")));
        }
        while (true)
        {
            float best = float.NegativeInfinity;
            int bestAt = -1, bestId = -1;
            for (int i = 0; i + 1 < tokens.Count; i++)
            {
                if (tokens[i].Piece is null || tokens[i + 1].Piece is null) continue;
                int id = t.PieceToId(tokens[i].Piece + tokens[i + 1].Piece);
                if (Matchable(t, id) && t.Score(id) > best) { best = t.Score(id); bestAt = i; bestId = id; }
            }
            if (bestAt < 0) break;
            tokens[bestAt] = (tokens[bestAt].Piece + tokens[bestAt + 1].Piece, bestId);
            tokens.RemoveAt(bestAt + 1);
        }
        return tokens.Select(x => x.Id).ToArray();
    }

    private static IEnumerable<string> Windows(string text, int count, int maxLength, int seed)
    {
        var rng = new Random(seed);
        for (int k = 0; k < count; k++)
        {
            int start = rng.Next(text.Length);
            int len = Math.Min(rng.Next(1, maxLength), text.Length - start);
            // Keep surrogate pairs whole so that the window is valid UTF-16.
            if (start > 0 && char.IsLowSurrogate(text[start])) start--;
            if (char.IsHighSurrogate(text[start + len - 1])) len = Math.Min(len + 1, text.Length - start);
            yield return text.Substring(start, len);
        }
    }

    [Fact]
    public void Tok512Bin_MatchesNaiveLoop_OnTinyStoriesWindows()
    {
        var t = TokenizerAssets.Tok512Bin;
        foreach (var s in Windows(TokenizerAssets.TinyStoriesSample, 300, 150, seed: 1))
            Assert.True(NaiveEncode(t, s).SequenceEqual(t.Encode(s)), $"differs on {System.Text.Json.JsonSerializer.Serialize(s)}");
    }

    [Fact]
    public void Llama2Model_MatchesNaiveLoop_OnWindowsOfTheReferenceStrings()
    {
        var t = TokenizerAssets.Llama2Model;
        string all = string.Join("\n", TokenizerAssets.LlamaSpmCases().Select(c => c.Text)) + TokenizerAssets.TinyStoriesSample;
        foreach (var s in Windows(all, 300, 120, seed: 2))
            Assert.True(NaiveEncode(t, s).SequenceEqual(t.Encode(s)), $"differs on {System.Text.Json.JsonSerializer.Serialize(s)}");
    }
}
