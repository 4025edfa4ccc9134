using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Tests.Fuzz;

/// <summary>Seeded mutations of a valid input. The same (input, seed) always gives the same bytes and description, so a
/// failure printed as parser + seed replays exactly. Binary inputs get bit flips, byte inserts/deletes, truncation,
/// integer fields set to extremes (0, -1, 2^31-1, 2^32-1, 2^63, …) and sections spliced from another file; JSON inputs
/// additionally get values replaced by wrong types or extreme values, keys removed, and invalid UTF-8.</summary>
internal static class Mutator
{
    private static readonly ulong[] Extremes =
    [
        0, 1, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF,
        0xFFFF, 0x10000, 0x40000000, 0xFFFFFFFE, 0x3FFFFFFFFFFFFFFF,
    ];

    private static readonly string[] JsonOddities =
    [
        "null", "true", "false", "0", "-1", "-5", "1.5", "2147483647", "2147483648", "4294967295", "9223372036854775808",
        "-2147483648", "1e300", "-1e300", "1e-300", "\"\"", "\"x\"", "\"NaN\"", "\"-1\"", "[]", "[1,2,3]", "[\"a\",null]",
        "{}", "{\"a\":1}", "[[[[[[[[[[[[]]]]]]]]]]]]", "0.0", "3.4028236e38",
    ];

    public static (byte[] Bytes, string How) Mutate(byte[] input, bool json, byte[]? other, int seed)
    {
        var rng = new Random(seed);
        if (json && rng.Next(3) > 0)
        {
            var r = MutateJson(input, rng);
            if (r is not null) return r.Value;
        }
        int rounds = 1 + (rng.Next(4) == 0 ? rng.Next(4) : 0);
        var bytes = input;
        var how = new List<string>();
        for (int i = 0; i < rounds; i++)
        {
            (bytes, var h) = MutateBytes(bytes, other, rng);
            how.Add(h);
        }
        return (bytes, string.Join("; ", how));
    }

    /// <summary>A position biased toward the start of the file, where headers and counts live.</summary>
    private static int Position(Random rng, int length)
    {
        if (length == 0) return 0;
        return rng.Next(3) switch
        {
            0 => rng.Next(Math.Min(length, 64)),
            1 => rng.Next(Math.Min(length, 4096)),
            _ => rng.Next(length),
        };
    }

    private static (byte[], string) MutateBytes(byte[] input, byte[]? other, Random rng)
    {
        var b = (byte[])input.Clone();
        int n = b.Length;
        switch (rng.Next(8))
        {
            case 0:
            {
                if (n == 0) goto case 2;
                int flips = 1 + rng.Next(8);
                for (int i = 0; i < flips; i++) { int p = Position(rng, n); b[p] ^= (byte)(1 << rng.Next(8)); }
                return (b, $"{flips} bit flips");
            }
            case 1:
            {
                if (n == 0) goto case 2;
                int p = Position(rng, n), len = Math.Min(n - p, 1 + rng.Next(rng.Next(2) == 0 ? 8 : 4096));
                return ([.. b.AsSpan(0, p), .. b.AsSpan(p + len)], $"delete {len} bytes at {p}");
            }
            case 2:
            {
                int p = Position(rng, n), len = 1 + rng.Next(rng.Next(2) == 0 ? 8 : 512);
                var ins = new byte[len];
                rng.NextBytes(ins);
                return ([.. b.AsSpan(0, p), .. ins, .. b.AsSpan(p)], $"insert {len} random bytes at {p}");
            }
            case 3:
            {
                int keep = rng.Next(2) == 0 ? rng.Next(Math.Min(n + 1, 512)) : rng.Next(n + 1);
                return (b[..keep], $"truncate to {keep} bytes");
            }
            case 4 or 5:
            {
                // An integer field set to an extreme, at a 4-aligned offset (counts and lengths are aligned in every
                // binary format here) or anywhere.
                if (n < 8) goto case 2;
                int p = Position(rng, n - 8);
                if (rng.Next(2) == 0) p &= ~3;
                ulong v = Extremes[rng.Next(Extremes.Length)];
                bool wide = rng.Next(2) == 0;
                if (wide) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(p), v);
                else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(p), (uint)v);
                return (b, $"{(wide ? "u64" : "u32")} at {p} = 0x{(wide ? v : (uint)v):X}");
            }
            case 6:
            {
                if (n == 0) goto case 2;
                // Add or subtract a small number from one byte (field values just out of range).
                int p = Position(rng, n);
                int d = rng.Next(2) == 0 ? 1 : -1;
                b[p] = (byte)(b[p] + d * (1 + rng.Next(4)));
                return (b, $"nudge byte {p}");
            }
            default:
            {
                // Splice: a section of another file (or of this one) overwrites or is inserted at a position here.
                var src = other is { Length: > 0 } && rng.Next(2) == 0 ? other : input;
                if (src.Length == 0) goto case 2;
                int from = Position(rng, src.Length), len = Math.Min(src.Length - from, 1 + rng.Next(2048));
                int p = Position(rng, n);
                if (rng.Next(2) == 0)
                    return ([.. b.AsSpan(0, p), .. src.AsSpan(from, len), .. b.AsSpan(p)], $"splice {len} bytes from {(src == other ? "other" : "self")}@{from} inserted at {p}");
                len = Math.Min(len, n - p);
                src.AsSpan(from, len).CopyTo(b.AsSpan(p));
                return (b, $"splice {len} bytes from {(src == other ? "other" : "self")}@{from} over {p}");
            }
        }
    }

    private static (byte[], string)? MutateJson(byte[] input, Random rng)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(input, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException) { return MutateJsonLine(input, rng); }
        if (root is null) return null;
        var nodes = new List<JsonNode>();
        Collect(root, nodes, 0);
        if (nodes.Count <= 1 && rng.Next(2) == 0) return null;
        var target = nodes[rng.Next(nodes.Count)];
        string how;
        int op = rng.Next(5);
        if (target == root) op = 4;
        switch (op)
        {
            case 0 or 1:
            {
                var text = JsonOddities[rng.Next(JsonOddities.Length)];
                how = $"{target.GetPath()} = {text}";
                Replace(target, JsonNode.Parse(text));
                break;
            }
            case 2:
            {
                how = $"remove {target.GetPath()}";
                Remove(target);
                break;
            }
            case 3:
            {
                // A string with bytes that are not UTF-8 (written raw after serialization).
                how = $"{target.GetPath()} = invalid UTF-8";
                Replace(target, JsonValue.Create("\u0001MARK\u0001"));
                var s = root.ToJsonString();
                var bytes = Encoding.UTF8.GetBytes(s);
                var mark = Encoding.UTF8.GetBytes("\\u0001MARK\\u0001");
                int at = bytes.AsSpan().IndexOf(mark);
                if (at < 0) return (bytes, how);
                // Raw bytes that are not UTF-8, or an escaped lone surrogate (valid JSON syntax, not a valid string).
                byte[] bad = rng.Next(4) switch { 0 => [0xFF, 0xFE], 1 => [0xC3], 2 => [0xED, 0xA0, 0x80], _ => "\\ud800"u8.ToArray() };
                return ([.. bytes.AsSpan(0, at), .. bad, .. bytes.AsSpan(at + mark.Length)], how);
            }
            default:
            {
                // The whole document or a container duplicated into itself (deep nesting / many entries).
                var text = JsonOddities[rng.Next(JsonOddities.Length)];
                if (target is JsonObject o) { o["__fuzz"] = JsonNode.Parse(text); how = $"{target.GetPath()}.__fuzz = {text}"; }
                else if (target is JsonArray a) { a.Add(JsonNode.Parse(text)); how = $"{target.GetPath()} append {text}"; }
                else { how = $"{target.GetPath()} = {text}"; if (target == root) return (Encoding.UTF8.GetBytes(text), how); Replace(target, JsonNode.Parse(text)); }
                break;
            }
        }
        try { return (Encoding.UTF8.GetBytes(root.ToJsonString()), how); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>JSON Lines: one line's record mutated as a JSON document.</summary>
    private static (byte[], string)? MutateJsonLine(byte[] input, Random rng)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i <= input.Length; i++)
            if (i == input.Length || input[i] == '\n') { lines.Add(input[start..i]); start = i + 1; }
        var candidates = Enumerable.Range(0, lines.Count).Where(i => lines[i].Length > 1 && lines[i][0] == '{').ToList();
        if (candidates.Count < 2) return null;
        int at = candidates[rng.Next(candidates.Count)];
        var r = MutateJson(lines[at], rng);
        if (r is null) return null;
        lines[at] = r.Value.Item1;
        return ([.. lines.SelectMany((l, i) => i == 0 ? l : [(byte)'\n', .. l])], $"line {at + 1}: {r.Value.Item2}");
    }

    private static void Collect(JsonNode node, List<JsonNode> into, int depth)
    {
        // Bounded so that large data files stay cheap: the first few hundred nodes are enough variety.
        if (into.Count > 400) return;
        into.Add(node);
        if (depth > 6) return;
        if (node is JsonObject o) foreach (var kv in o) { if (kv.Value is not null) Collect(kv.Value, into, depth + 1); }
        else if (node is JsonArray a) foreach (var x in a.Take(20)) { if (x is not null) Collect(x, into, depth + 1); }
    }

    private static void Replace(JsonNode target, JsonNode? with)
    {
        switch (target.Parent)
        {
            case JsonObject o: o[target.GetPropertyName()] = with; break;
            case JsonArray a: a[target.GetElementIndex()] = with; break;
        }
    }

    private static void Remove(JsonNode target)
    {
        switch (target.Parent)
        {
            case JsonObject o: o.Remove(target.GetPropertyName()); break;
            case JsonArray a: a.RemoveAt(target.GetElementIndex()); break;
        }
    }
}
