using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;

namespace Engine.Tokenizers;

/// <summary>A tokenizer.json decoder reduced to what one token contributes: its bytes, plus one rule at the start of
/// the text (drop one leading space). Supported: ByteLevel; Metaspace; a Sequence of Replace (String pattern),
/// ByteFallback, Fuse and Strip (after Fuse, stripping leading chars only), which is what Llama/Mistral tokenizer.json
/// files use. Others (WordPiece, BPEDecoder, CTC, a Strip of trailing chars …) are refused by name.</summary>
internal sealed class HfDecoder
{
    private readonly bool _byteLevel;
    private readonly bool _byteFallback;
    private readonly (string From, string To)[] _replaces;
    private readonly int _stripLeadingSpaces;

    private HfDecoder(bool byteLevel, bool byteFallback, (string, string)[] replaces, int stripLeadingSpaces)
    {
        _byteLevel = byteLevel;
        _byteFallback = byteFallback;
        _replaces = replaces;
        _stripLeadingSpaces = stripLeadingSpaces;
    }

    /// <summary>Plain concatenation of the pieces' UTF-8 (a tokenizer.json without a decoder).</summary>
    public static readonly HfDecoder Identity = new(false, false, [], 0);

    /// <summary>GPT-2 byte-level decoding (GGUF gpt2 vocabularies).</summary>
    public static readonly HfDecoder ByteLevel = new(true, false, [], 0);

    public bool IsByteLevel => _byteLevel;

    public static HfDecoder Parse(HfJson json, JsonNode? node, string path)
    {
        if (HfJson.IsNull(node)) return Identity;
        var o = json.Object(node, path);
        string type = json.Type(o, path);
        switch (type)
        {
            case "ByteLevel":
                json.OnlyKeys(o, path, "add_prefix_space", "trim_offsets", "use_regex");
                return ByteLevel;
            case "Metaspace":
            {
                json.OnlyKeys(o, path, "replacement", "prepend_scheme", "split", "str_rep", "add_prefix_space");
                string r = json.String(o["replacement"], $"{path}.replacement");
                string scheme = json.OptString(o, "prepend_scheme", path)
                    ?? (json.Bool(o, "add_prefix_space", path, true) ? "always" : "never");
                if (scheme is not ("first" or "always" or "never"))
                    throw json.Error($"{path}.prepend_scheme", $"\"{scheme}\" is not one of first, always, never");
                return new HfDecoder(false, false, [(r, " ")], scheme == "never" ? 0 : 1);
            }
            case "Sequence":
            {
                json.OnlyKeys(o, path, "decoders");
                var items = json.Array(o["decoders"], $"{path}.decoders");
                var replaces = new List<(string, string)>();
                bool byteFallback = false, fused = false;
                int strip = 0;
                for (int i = 0; i < items.Count; i++)
                {
                    string p = $"{path}.decoders[{i}]";
                    var d = json.Object(items[i], p);
                    switch (json.Type(d, p))
                    {
                        case "Replace":
                        {
                            json.OnlyKeys(d, p, "pattern", "content");
                            var pattern = json.Object(d["pattern"], $"{p}.pattern");
                            if (pattern.Count != 1 || pattern["String"] is null)
                                throw json.Error($"{p}.pattern", $"only a {{\"String\": ...}} pattern is supported, got {HfJson.Show(pattern)}");
                            if (fused) throw json.Error(p, "Replace after Fuse is not supported");
                            replaces.Add((json.String(pattern["String"], $"{p}.pattern.String"), json.String(d["content"], $"{p}.content")));
                            break;
                        }
                        case "ByteFallback":
                            json.OnlyKeys(d, p);
                            byteFallback = true;
                            break;
                        case "Fuse":
                            json.OnlyKeys(d, p);
                            fused = true;
                            break;
                        case "Strip":
                        {
                            json.OnlyKeys(d, p, "content", "start", "stop");
                            if (json.String(d["content"], $"{p}.content") != " ")
                                throw json.Error($"{p}.content", "only stripping spaces (\" \") is supported");
                            if (json.Int(d["stop"], $"{p}.stop") != 0) throw json.Error($"{p}.stop", "stripping trailing characters is not supported");
                            if (!fused) throw json.Error(p, "Strip before Fuse (per token) is not supported");
                            strip = json.Int(d["start"], $"{p}.start");
                            break;
                        }
                        case var t:
                            throw json.Error($"{p}.type", $"decoder \"{t}\" is not supported in a Sequence (supported: Replace, ByteFallback, Fuse, Strip)");
                    }
                }
                return new HfDecoder(false, byteFallback, replaces.ToArray(), strip);
            }
            default:
                throw json.Error($"{path}.type", $"decoder \"{type}\" is not supported (supported: ByteLevel, Metaspace, Sequence)");
        }
    }

    /// <summary>Appends the bytes of one (non-skipped) token's piece. <paramref name="leadingToStrip"/> counts the
    /// leading spaces still to drop at the start of the text (starts at <see cref="StripAtStart"/>).</summary>
    /// <returns>The number of bytes the piece made before stripping.</returns>
    public int Append(string piece, ref int leadingToStrip, IBufferWriter<byte> output)
    {
        var buffer = output.GetSpan(Encoding.UTF8.GetMaxByteCount(piece.Length) + 4);
        int n;
        if (_byteFallback && TokenVocabulary.TryParseBytePiece(piece, out byte b))
        {
            buffer[0] = b;
            n = 1;
        }
        else if (_byteLevel)
        {
            n = 0;
            for (int i = 0; i < piece.Length; i++)
            {
                int v = ByteLevelAlphabet.ToByte(piece[i]);
                if (v >= 0) buffer[n++] = (byte)v;
                else
                {
                    int len = char.IsSurrogatePair(piece, i) ? 2 : 1;
                    n += Encoding.UTF8.GetBytes(piece.AsSpan(i, len), buffer[n..]);
                    i += len - 1;
                }
            }
        }
        else
        {
            string text = piece;
            foreach (var (from, to) in _replaces) text = text.Replace(from, to, StringComparison.Ordinal);
            if (text.Length > piece.Length) buffer = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
            n = Encoding.UTF8.GetBytes(text, buffer);
        }
        int skip = 0;
        while (leadingToStrip > 0 && skip < n && buffer[skip] == (byte)' ') { skip++; leadingToStrip--; }
        if (n > 0) leadingToStrip = 0;
        if (skip > 0) buffer[skip..n].CopyTo(buffer);
        output.Advance(n - skip);
        return n;
    }

    /// <summary>Leading spaces removed from the start of decoded text.</summary>
    public int StripAtStart => _stripLeadingSpaces;
}
