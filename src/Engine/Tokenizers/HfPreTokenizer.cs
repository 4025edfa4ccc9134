using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Engine.Tokenizers;

/// <summary>A tokenizer.json pre-tokenizer: Sequence, Split (String or Regex pattern, every behavior, invert),
/// ByteLevel, Metaspace and Digits. Others (Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer,
/// UnicodeScripts, CharDelimiterSplit) are refused by name.</summary>
internal abstract class HfPreTokenizer
{
    /// <summary>Replaces <paramref name="pieces"/> by the pieces this step makes of them. <paramref name="atInputStart"/>:
    /// the segment starts at index 0 of the input (Metaspace's prepend_scheme "first").</summary>
    public abstract void Apply(List<HfPreToken> pieces, bool atInputStart);

    public static HfPreTokenizer? Parse(HfJson json, JsonNode? node, string path)
    {
        if (HfJson.IsNull(node)) return null;
        var o = json.Object(node, path);
        switch (json.Type(o, path))
        {
            case "Sequence":
                json.OnlyKeys(o, path, "pretokenizers");
                var items = json.Array(o["pretokenizers"], $"{path}.pretokenizers");
                return new Sequence(items.Select((n, i) => Parse(json, n, $"{path}.pretokenizers[{i}]")
                    ?? throw json.Error($"{path}.pretokenizers[{i}]", "expected a pre-tokenizer, got null")).ToArray());
            case "Split":
            {
                json.OnlyKeys(o, path, "pattern", "behavior", "invert");
                var pattern = json.Object(o["pattern"], $"{path}.pattern");
                HfRegex regex;
                if (pattern.Count == 1 && pattern["Regex"] is { } r)
                    regex = new HfRegex(json.String(r, $"{path}.pattern.Regex"), m => json.Error($"{path}.pattern.Regex", m));
                else if (pattern.Count == 1 && pattern["String"] is { } s)
                {
                    string literal = json.String(s, $"{path}.pattern.String");
                    regex = new HfRegex(System.Text.RegularExpressions.Regex.Escape(literal), m => json.Error($"{path}.pattern.String", m));
                }
                else throw json.Error($"{path}.pattern", $"expected {{\"Regex\": ...}} or {{\"String\": ...}}, got {HfJson.Show(pattern)}");
                return new SplitStep(regex, Behavior(json, o, path), json.Bool(o, "invert", path, false));
            }
            case "ByteLevel":
                json.OnlyKeys(o, path, "add_prefix_space", "trim_offsets", "use_regex");
                // trim_offsets changes HF's offsets only, never the ids; engine's spans are its own.
                return new ByteLevel(json.Bool(o, "add_prefix_space", path, true), json.Bool(o, "use_regex", path, true));
            case "Metaspace":
            {
                json.OnlyKeys(o, path, "replacement", "prepend_scheme", "split", "str_rep", "add_prefix_space");
                string replacement = json.String(o["replacement"], $"{path}.replacement");
                if (replacement.Length != 1) throw json.Error($"{path}.replacement", $"expected one character, got \"{replacement}\"");
                if (o["str_rep"] is { } sr && json.String(sr, $"{path}.str_rep") != replacement)
                    throw json.Error($"{path}.str_rep", "differs from replacement");
                string scheme;
                if (json.OptString(o, "prepend_scheme", path) is string ps)
                {
                    if (ps is not ("first" or "always" or "never"))
                        throw json.Error($"{path}.prepend_scheme", $"\"{ps}\" is not one of first, always, never");
                    scheme = ps;
                }
                else scheme = json.Bool(o, "add_prefix_space", path, true) ? "always" : "never";
                return new Metaspace(replacement[0], scheme, json.Bool(o, "split", path, true));
            }
            case "Digits":
                json.OnlyKeys(o, path, "individual_digits");
                return new Digits(json.Bool(o, "individual_digits", path, false));
            case var t:
                throw json.Error($"{path}.type", $"pre-tokenizer \"{t}\" is not supported (supported: Sequence, Split, ByteLevel, Metaspace, Digits)");
        }
    }

    /// <summary>Split(regex, Isolated) then ByteLevel without prefix space or regex: the pre-tokenizer of Llama 3 and
    /// Qwen tokenizer.json files, and of GGUF "gpt2" vocabularies.</summary>
    public static HfPreTokenizer SplitThenByteLevel(HfRegex regex) =>
        new Sequence([new SplitStep(regex, HfSplitBehavior.Isolated, false), new ByteLevel(false, false)]);

    private static HfSplitBehavior Behavior(HfJson json, JsonObject o, string path)
    {
        string b = json.String(o["behavior"], $"{path}.behavior");
        return b switch
        {
            "Isolated" => HfSplitBehavior.Isolated,
            "Removed" => HfSplitBehavior.Removed,
            "MergedWithPrevious" => HfSplitBehavior.MergedWithPrevious,
            "MergedWithNext" => HfSplitBehavior.MergedWithNext,
            "Contiguous" => HfSplitBehavior.Contiguous,
            _ => throw json.Error($"{path}.behavior", $"\"{b}\" is not one of Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous"),
        };
    }

    /// <summary>The regex of the first Split step (for GGUF export's tokenizer.ggml.pre), or null.</summary>
    public virtual string? SplitPattern => null;

    /// <summary>Whether this ends in a byte-level step (GPT-2 style vocabularies).</summary>
    public virtual bool IsByteLevel => false;

    private sealed class Sequence(HfPreTokenizer[] items) : HfPreTokenizer
    {
        public override void Apply(List<HfPreToken> pieces, bool atInputStart)
        {
            foreach (var p in items) p.Apply(pieces, atInputStart);
        }

        public override string? SplitPattern => items.Select(i => i.SplitPattern).FirstOrDefault(p => p is not null);
        public override bool IsByteLevel => items.Length > 0 && items[^1].IsByteLevel;
    }

    /// <summary>Runs a per-piece split over every piece.</summary>
    private abstract class PieceSplitter : HfPreTokenizer
    {
        public override void Apply(List<HfPreToken> pieces, bool atInputStart)
        {
            var input = pieces.ToArray();
            pieces.Clear();
            foreach (var p in input) SplitPiece(p, pieces);
        }

        protected abstract void SplitPiece(HfPreToken piece, List<HfPreToken> output);
    }

    private sealed class SplitStep(HfRegex regex, HfSplitBehavior behavior, bool invert) : PieceSplitter
    {
        public override string? SplitPattern => regex.Pattern;

        protected override void SplitPiece(HfPreToken piece, List<HfPreToken> output) =>
            HfSplit.Apply(piece, HfSplit.WithGaps(regex.Matches(piece.Text), piece.Text.Length, invert), behavior, output);
    }

    private sealed class Digits(bool individual) : PieceSplitter
    {
        protected override void SplitPiece(HfPreToken piece, List<HfPreToken> output)
        {
            var hits = new List<(int, int)>();
            string s = piece.Text;
            for (int i = 0; i < s.Length;)
            {
                int n = char.IsSurrogatePair(s, i) ? 2 : 1;
                if (IsNumeric(s, i)) hits.Add((i, i + n));
                i += n;
            }
            HfSplit.Apply(piece, HfSplit.WithGaps(hits, s.Length, invert: false),
                individual ? HfSplitBehavior.Isolated : HfSplitBehavior.Contiguous, output);
        }

        /// <summary>Rust's char::is_numeric: categories Nd, Nl, No.</summary>
        private static bool IsNumeric(string s, int i) => CharUnicodeInfo.GetUnicodeCategory(s, i) is
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;
    }

    /// <summary>GPT-2 byte-level: optionally a prefix space and the GPT-2 regex split, then every piece's UTF-8 bytes
    /// written in <see cref="ByteLevelAlphabet"/>; each byte char maps to the char it came from.</summary>
    private sealed class ByteLevel(bool addPrefixSpace, bool useRegex) : PieceSplitter
    {
        private static readonly HfRegex Gpt2 = new(HfRegex.Gpt2Pattern, m => new InvalidOperationException(m));

        public override bool IsByteLevel => true;
        public override string? SplitPattern => useRegex ? HfRegex.Gpt2Pattern : null;

        protected override void SplitPiece(HfPreToken piece, List<HfPreToken> output)
        {
            if (addPrefixSpace && !piece.Text.StartsWith(' '))
            {
                var src = new int[piece.Text.Length + 1];
                src[0] = -1;
                for (int i = 0; i < piece.Text.Length; i++) src[i + 1] = piece.SourceOf(i);
                piece = new HfPreToken(" " + piece.Text, 0, src);
            }
            if (!useRegex) { output.Add(ToBytes(piece)); return; }
            var parts = new List<HfPreToken>();
            HfSplit.Apply(piece, HfSplit.WithGaps(Gpt2.Matches(piece.Text), piece.Text.Length, false), HfSplitBehavior.Isolated, parts);
            foreach (var p in parts) output.Add(ToBytes(p));
        }

        public static HfPreToken ToBytes(HfPreToken piece)
        {
            string s = piece.Text;
            bool ascii = true;
            foreach (char c in s) if (c >= 0x80) { ascii = false; break; }
            if (ascii && piece.Src is null)
            {
                // One byte per char: the byte-level text maps char i to the same source as before.
                return new HfPreToken(string.Create(s.Length, s, static (dest, src) =>
                {
                    for (int i = 0; i < src.Length; i++) dest[i] = ByteLevelAlphabet.CharOf[src[i]];
                }), piece.Offset, null);
            }
            var chars = new char[ascii ? s.Length : Encoding.UTF8.GetMaxByteCount(s.Length)];
            var src = new int[chars.Length];
            int n = 0;
            Span<byte> utf8 = stackalloc byte[4];
            for (int i = 0; i < s.Length;)
            {
                int source = piece.SourceOf(i);
                int len;
                if (s[i] < 0x80) { utf8[0] = (byte)s[i]; len = 1; i++; }
                else
                {
                    if (System.Text.Rune.DecodeFromUtf16(s.AsSpan(i), out var rune, out int used) != System.Buffers.OperationStatus.Done)
                        rune = System.Text.Rune.ReplacementChar;
                    len = rune.EncodeToUtf8(utf8);
                    i += Math.Max(used, 1);
                }
                for (int k = 0; k < len; k++) { chars[n] = ByteLevelAlphabet.CharOf[utf8[k]]; src[n] = source; n++; }
            }
            return new HfPreToken(new string(chars, 0, n), 0, n == src.Length ? src : src.AsSpan(0, n).ToArray());
        }
    }

    /// <summary>SentencePiece-style: spaces become the replacement char, which is prepended per prepend_scheme, and
    /// with split the text is cut before every replacement char.</summary>
    private sealed class Metaspace(char replacement, string scheme, bool split) : HfPreTokenizer
    {
        public override void Apply(List<HfPreToken> pieces, bool atInputStart)
        {
            var input = pieces.ToArray();
            pieces.Clear();
            foreach (var p in input) Split(p, atInputStart, pieces);
        }

        private void Split(HfPreToken piece, bool atInputStart, List<HfPreToken> output)
        {
            string text = piece.Text.Replace(' ', replacement);
            bool prepend = text.Length > 0 && text[0] != replacement
                && (scheme == "always" || scheme == "first" && atInputStart && piece.SourceOf(0) == 0);
            int[] src = new int[text.Length + (prepend ? 1 : 0)];
            int o = 0;
            if (prepend) src[o++] = -1;
            for (int i = 0; i < piece.Text.Length; i++) src[o++] = piece.SourceOf(i);
            var p = new HfPreToken(prepend ? replacement + text : text, 0, src);
            if (!split) { output.Add(p); return; }
            var hits = new List<(int, int)>();
            for (int i = 0; i < p.Text.Length; i++) if (p.Text[i] == replacement) hits.Add((i, i + 1));
            HfSplit.Apply(p, HfSplit.WithGaps(hits, p.Text.Length, false), HfSplitBehavior.MergedWithNext, output);
        }
    }
}
