using System.Text;

namespace Engine.Tokenizers;

/// <summary>Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition; UAX #15)
/// from <see cref="UnicodeNfcData"/>. Engine builds with InvariantGlobalization, where string.Normalize leaves
/// non-ASCII text unchanged, so HF's NFC normalizer (Qwen) needs its own.</summary>
internal static class UnicodeNfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    private const int NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int First, int Second)> Decomp = new();
    private static readonly Dictionary<int, int> Ccc = new();
    private static readonly Dictionary<long, int> Compose = new();
    /// <summary>Chars below U+10000 that may change under NFC or change a neighbour: those with a decomposition, a
    /// non-zero combining class, or that compose with the char before them.</summary>
    private static readonly bool[] MayChange = new bool[0x10000];

    static UnicodeNfc()
    {
        var d = UnicodeNfcData.Decompositions;
        var excluded = UnicodeNfcData.CompositionExclusions.ToHashSet();
        for (int i = 0; i < d.Length; i += 3)
        {
            Decomp[d[i]] = (d[i + 1], d[i + 2]);
            Mark(d[i]);
            if (d[i + 2] != 0 && !excluded.Contains(d[i]))
            {
                Compose[Key(d[i + 1], d[i + 2])] = d[i];
                Mark(d[i + 2]);
            }
        }
        var c = UnicodeNfcData.CombiningClasses;
        for (int i = 0; i < c.Length; i += 2)
        {
            Ccc[c[i]] = c[i + 1];
            Mark(c[i]);
        }
        for (int v = VBase; v < VBase + VCount; v++) Mark(v);
        for (int t = TBase + 1; t < TBase + TCount; t++) Mark(t);

        static void Mark(int cp)
        {
            if (cp < 0x10000) MayChange[cp] = true;
        }
    }

    private static long Key(int a, int b) => (long)a << 21 | (uint)b;

    /// <summary>Whether NFC surely leaves <paramref name="s"/> as it is (a quick check; false means "maybe not").</summary>
    public static bool IsSurelyNormalized(ReadOnlySpan<char> s)
    {
        foreach (char ch in s)
            if (ch >= 0x300 && (char.IsSurrogate(ch) || MayChange[ch])) return false;
        return true;
    }

    public static string Normalize(string s)
    {
        if (IsSurelyNormalized(s)) return s;
        var cps = new List<int>(s.Length + 4);
        foreach (var rune in s.EnumerateRunes()) Decompose(rune.Value, cps);
        Reorder(cps);
        ComposeInPlace(cps);
        var sb = new StringBuilder(s.Length);
        foreach (int cp in cps) sb.Append(new Rune(cp).ToString());
        return sb.ToString();
    }

    private static int ClassOf(int cp) => Ccc.TryGetValue(cp, out int c) ? c : 0;

    private static void Decompose(int cp, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (Decomp.TryGetValue(cp, out var d))
        {
            Decompose(d.First, output);
            if (d.Second != 0) Decompose(d.Second, output);
            return;
        }
        output.Add(cp);
    }

    /// <summary>Stable sort of each run of non-starters by combining class.</summary>
    private static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int c = ClassOf(cps[i]);
            if (c == 0) continue;
            for (int j = i; j > 0 && ClassOf(cps[j - 1]) > c; j--) (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
    }

    private static void ComposeInPlace(List<int> s)
    {
        if (s.Count == 0) return;
        int starterPos = 0, starter = s[0];
        int lastClass = ClassOf(starter);
        if (lastClass != 0) lastClass = 256;
        int outPos = 1;
        for (int i = 1; i < s.Count; i++)
        {
            int ch = s[i], chClass = ClassOf(ch);
            int composite = ComposePair(starter, ch);
            if (composite >= 0 && (lastClass < chClass || lastClass == 0))
            {
                s[starterPos] = composite;
                starter = composite;
                continue;
            }
            if (chClass == 0)
            {
                starterPos = outPos;
                starter = ch;
            }
            lastClass = chClass;
            s[outPos++] = ch;
        }
        s.RemoveRange(outPos, s.Count - outPos);
    }

    private static int ComposePair(int a, int b)
    {
        if (a is >= LBase and < LBase + LCount && b is >= VBase and < VBase + VCount)
            return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
        if (a is >= SBase and < SBase + SCount && (a - SBase) % TCount == 0 && b is > TBase and < TBase + TCount)
            return a + (b - TBase);
        return Compose.TryGetValue(Key(a, b), out int c) ? c : -1;
    }
}
