namespace Engine.Tokenizers;

/// <summary>What a pre-tokenizer split does with the matched delimiters (HF SplitDelimiterBehavior).</summary>
internal enum HfSplitBehavior { Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>Turns a list of matches into pieces the way HF tokenizers' NormalizedString::split does.</summary>
internal static class HfSplit
{
    /// <param name="matches">(start, end, isMatch) ranges covering the text in order.</param>
    public static void Apply(HfPreToken piece, List<(int Start, int End, bool IsMatch)> matches, HfSplitBehavior behavior,
        List<HfPreToken> output)
    {
        var parts = new List<(int Start, int End)>(matches.Count);
        switch (behavior)
        {
            case HfSplitBehavior.Isolated:
                foreach (var m in matches) parts.Add((m.Start, m.End));
                break;
            case HfSplitBehavior.Removed:
                foreach (var m in matches) if (!m.IsMatch) parts.Add((m.Start, m.End));
                break;
            case HfSplitBehavior.MergedWithPrevious:
            {
                bool previousMatch = false;
                foreach (var m in matches)
                {
                    if (m.IsMatch && !previousMatch && parts.Count > 0) parts[^1] = (parts[^1].Start, m.End);
                    else parts.Add((m.Start, m.End));
                    previousMatch = m.IsMatch;
                }
                break;
            }
            case HfSplitBehavior.MergedWithNext:
            {
                bool previousMatch = false;
                for (int i = matches.Count - 1; i >= 0; i--)
                {
                    var m = matches[i];
                    if (m.IsMatch && !previousMatch && parts.Count > 0) parts[^1] = (m.Start, parts[^1].End);
                    else parts.Add((m.Start, m.End));
                    previousMatch = m.IsMatch;
                }
                parts.Reverse();
                break;
            }
            case HfSplitBehavior.Contiguous:
            {
                bool previousMatch = false;
                foreach (var m in matches)
                {
                    if (m.IsMatch == previousMatch && parts.Count > 0) parts[^1] = (parts[^1].Start, m.End);
                    else parts.Add((m.Start, m.End));
                    previousMatch = m.IsMatch;
                }
                break;
            }
        }
        foreach (var (s, e) in parts)
            if (e > s) output.Add(piece.Slice(s, e - s));
    }

    /// <summary>Adds the gaps around <paramref name="hits"/> (sorted, disjoint (start, end) ranges) as non-matches.</summary>
    public static List<(int, int, bool)> WithGaps(IEnumerable<(int Start, int End)> hits, int length, bool invert)
    {
        var all = new List<(int, int, bool)>();
        int prev = 0;
        foreach (var (s, e) in hits)
        {
            if (e <= s) continue;
            if (s > prev) all.Add((prev, s, invert));
            all.Add((s, e, !invert));
            prev = e;
        }
        if (prev < length) all.Add((prev, length, invert));
        return all;
    }
}
