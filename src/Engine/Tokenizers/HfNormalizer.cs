using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Engine.Tokenizers;

/// <summary>A tokenizer.json normalizer: NFC, Prepend, Replace (String pattern) and Sequences of them. Others
/// (BertNormalizer, Lowercase, NFKC, Strip, Precompiled, Replace with a Regex …) are refused by name.</summary>
internal abstract class HfNormalizer
{
    public abstract HfNormalizedText Apply(HfNormalizedText text);

    /// <summary>Null for a JSON null (no normalizer).</summary>
    public static HfNormalizer? Parse(HfJson json, JsonNode? node, string path)
    {
        if (HfJson.IsNull(node)) return null;
        var o = json.Object(node, path);
        switch (json.Type(o, path))
        {
            case "Sequence":
                json.OnlyKeys(o, path, "normalizers");
                var items = json.Array(o["normalizers"], $"{path}.normalizers");
                return new SequenceNormalizer(items.Select((n, i) => Parse(json, n, $"{path}.normalizers[{i}]")
                    ?? throw json.Error($"{path}.normalizers[{i}]", "expected a normalizer, got null")).ToArray());
            case "NFC":
                json.OnlyKeys(o, path);
                return new NfcNormalizer();
            case "Prepend":
                json.OnlyKeys(o, path, "prepend");
                return new PrependNormalizer(json.String(o["prepend"], $"{path}.prepend"));
            case "Replace":
                json.OnlyKeys(o, path, "pattern", "content");
                var pattern = json.Object(o["pattern"], $"{path}.pattern");
                if (pattern.Count != 1 || pattern["String"] is null)
                    throw json.Error($"{path}.pattern", $"only a {{\"String\": ...}} pattern is supported, got {HfJson.Show(pattern)}");
                string from = json.String(pattern["String"], $"{path}.pattern.String");
                if (from.Length == 0) throw json.Error($"{path}.pattern.String", "is empty");
                return new ReplaceNormalizer(from, json.String(o["content"], $"{path}.content"));
            case var t:
                throw json.Error($"{path}.type", $"normalizer \"{t}\" is not supported (supported: Sequence, NFC, Prepend, Replace)");
        }
    }

    private sealed class SequenceNormalizer(HfNormalizer[] items) : HfNormalizer
    {
        public override HfNormalizedText Apply(HfNormalizedText text)
        {
            foreach (var n in items) text = n.Apply(text);
            return text;
        }
    }

    private sealed class PrependNormalizer(string prefix) : HfNormalizer
    {
        public override HfNormalizedText Apply(HfNormalizedText t)
        {
            if (t.Text.Length == 0) return t;
            int n = prefix.Length, len = t.Text.Length;
            var start = new int[n + len];
            var end = new int[n + len];
            Array.Fill(start, t.StartOf(0), 0, n);
            Array.Fill(end, t.StartOf(0), 0, n);
            for (int i = 0; i < len; i++) { start[n + i] = t.StartOf(i); end[n + i] = t.EndOf(i); }
            return new HfNormalizedText(prefix + t.Text, start, end);
        }
    }

    /// <summary>Every occurrence (left to right, not overlapping) becomes the content; the content's chars map to the
    /// span of the text they replaced.</summary>
    private sealed class ReplaceNormalizer(string from, string to) : HfNormalizer
    {
        public override HfNormalizedText Apply(HfNormalizedText t)
        {
            string s = t.Text;
            if (!s.Contains(from, StringComparison.Ordinal)) return t;
            var text = new StringBuilder(s.Length);
            var start = new List<int>(s.Length);
            var end = new List<int>(s.Length);
            for (int i = 0; i < s.Length;)
            {
                if (string.CompareOrdinal(s, i, from, 0, from.Length) == 0 && i + from.Length <= s.Length)
                {
                    int a = t.StartOf(i), b = t.EndOf(i + from.Length - 1);
                    foreach (char c in to) { text.Append(c); start.Add(a); end.Add(b); }
                    i += from.Length;
                }
                else
                {
                    text.Append(s[i]); start.Add(t.StartOf(i)); end.Add(t.EndOf(i));
                    i++;
                }
            }
            return new HfNormalizedText(text.ToString(), start.ToArray(), end.ToArray());
        }
    }

    /// <summary>Unicode NFC (<see cref="UnicodeNfc"/>), applied one text element (grapheme cluster) at a time so that
    /// each output char keeps the span of the cluster it came from (composition does not cross cluster boundaries).</summary>
    private sealed class NfcNormalizer : HfNormalizer
    {
        public override HfNormalizedText Apply(HfNormalizedText t)
        {
            string s = t.Text;
            if (UnicodeNfc.IsSurelyNormalized(s)) return t;
            var text = new StringBuilder(s.Length);
            var start = new List<int>(s.Length);
            var end = new List<int>(s.Length);
            for (int i = 0; i < s.Length;)
            {
                int n = StringInfo.GetNextTextElementLength(s, i);
                string element = s.Substring(i, n);
                string normalized = UnicodeNfc.Normalize(element);
                if (normalized == element)
                    for (int k = 0; k < n; k++) { text.Append(s[i + k]); start.Add(t.StartOf(i + k)); end.Add(t.EndOf(i + k)); }
                else
                {
                    int a = t.StartOf(i), b = t.EndOf(i + n - 1);
                    foreach (char c in normalized) { text.Append(c); start.Add(a); end.Add(b); }
                }
                i += n;
            }
            return new HfNormalizedText(text.ToString(), start.ToArray(), end.ToArray());
        }

    }
}
