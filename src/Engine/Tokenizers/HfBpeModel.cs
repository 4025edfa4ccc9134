using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Tokenizers;

/// <summary>HF tokenizers' BPE model: a word's characters (byte-fallback tokens, or unk, for characters not in the
/// vocabulary) merged pair by pair, the pair with the lowest merge rank first and the leftmost on ties, exactly as
/// tokenizers' Word::merge_all does. With ignore_merges a word that is itself in the vocabulary is one token (Llama 3).
/// Results are cached per word (the same words recur across a corpus).</summary>
internal sealed class HfBpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[]? _byteIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private const int CacheLimit = 200_000;

    private HfBpeModel(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, List<string> mergeList,
        int unkId, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        Merges = mergeList;
        UnkId = unkId;
        FuseUnk = fuseUnk;
        IgnoreMerges = ignoreMerges;
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    /// <summary>The merges in rank order, as "left right".</summary>
    public IReadOnlyList<string> Merges { get; }
    public int UnkId { get; }
    public bool FuseUnk { get; }
    public bool IgnoreMerges { get; }
    public bool ByteFallback => _byteIds is not null;

    public static HfBpeModel Parse(HfJson json, JsonNode? node, string path)
    {
        var o = json.Object(node, path);
        string type = json.Type(o, path);
        if (type != "BPE") throw json.Error($"{path}.type", $"model \"{type}\" is not supported (supported: BPE)");
        json.OnlyKeys(o, path, "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
            "byte_fallback", "ignore_merges", "vocab", "merges");
        if (!HfJson.IsNull(o["dropout"]) && o["dropout"]!.GetValue<double>() != 0)
            throw json.Error($"{path}.dropout", $"BPE dropout {HfJson.Show(o["dropout"])} is not supported (expected null or 0)");
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (json.OptString(o, key, path) is { Length: > 0 } v)
                throw json.Error($"{path}.{key}", $"\"{v}\" is not supported (expected null or \"\")");

        var vocabObj = json.Object(o["vocab"], $"{path}.vocab");
        var vocab = new Dictionary<string, int>(vocabObj.Count, StringComparer.Ordinal);
        foreach (var (piece, idNode) in vocabObj)
            vocab[piece] = json.Int(idNode, $"{path}.vocab[\"{piece}\"]");

        int unkId = -1;
        if (json.OptString(o, "unk_token", path) is string unk)
            unkId = vocab.TryGetValue(unk, out int u) ? u : throw json.Error($"{path}.unk_token", $"\"{unk}\" is not in the vocabulary");

        var mergesArr = json.Array(o["merges"], $"{path}.merges");
        var merges = new Dictionary<long, (int, int)>(mergesArr.Count);
        var mergeList = new List<string>(mergesArr.Count);
        for (int rank = 0; rank < mergesArr.Count; rank++)
        {
            string where = $"{path}.merges[{rank}]";
            var m = mergesArr[rank];
            string a, b;
            if (m is JsonArray pair)
            {
                if (pair.Count != 2) throw json.Error(where, $"expected a pair, got {HfJson.Show(m)}");
                a = json.String(pair[0], where + "[0]");
                b = json.String(pair[1], where + "[1]");
            }
            else
            {
                var parts = json.String(m, where).Split(' ');
                if (parts.Length != 2) throw json.Error(where, $"expected \"left right\" (one space), got {HfJson.Show(m)}");
                (a, b) = (parts[0], parts[1]);
            }
            if (!vocab.TryGetValue(a, out int ia)) throw json.Error(where, $"\"{a}\" is not in the vocabulary");
            if (!vocab.TryGetValue(b, out int ib)) throw json.Error(where, $"\"{b}\" is not in the vocabulary");
            if (!vocab.TryGetValue(a + b, out int ic)) throw json.Error(where, $"the merged \"{a + b}\" is not in the vocabulary");
            merges.TryAdd(Key(ia, ib), (rank, ic));
            mergeList.Add(a + " " + b);
        }
        return new HfBpeModel(vocab, merges, mergeList, unkId, json.Bool(o, "fuse_unk", path, false),
            json.Bool(o, "byte_fallback", path, false), json.Bool(o, "ignore_merges", path, false));
    }

    /// <summary>Builds a model from a GGUF gpt2 vocabulary (merges are "left right").</summary>
    public static HfBpeModel FromTokens(Dictionary<string, int> vocab, IReadOnlyList<string> merges, Func<string, string, Exception> error,
        bool ignoreMerges)
    {
        var map = new Dictionary<long, (int, int)>(merges.Count);
        var list = new List<string>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            string where = $"tokenizer.ggml.merges[{rank}]";
            int space = merges[rank].IndexOf(' ', 1);
            if (space < 0) throw error(where, $"expected \"left right\", got \"{merges[rank]}\"");
            string a = merges[rank][..space], b = merges[rank][(space + 1)..];
            if (!vocab.TryGetValue(a, out int ia) || !vocab.TryGetValue(b, out int ib) || !vocab.TryGetValue(a + b, out int ic))
                throw error(where, $"\"{merges[rank]}\": a part or the merged token is not in tokenizer.ggml.tokens");
            map.TryAdd(Key(ia, ib), (rank, ic));
            list.Add(merges[rank]);
        }
        return new HfBpeModel(vocab, map, list, -1, false, false, ignoreMerges);
    }

    private static long Key(int a, int b) => (long)a << 32 | (uint)b;

    /// <summary>The tokens of one word as triples (id, char start, char end) in a flat array.</summary>
    public int[] Encode(string word)
    {
        if (_cache.TryGetValue(word, out var cached)) return cached;
        var result = EncodeUncached(word);
        if (word.Length <= 256)
        {
            if (_cache.Count >= CacheLimit) _cache.Clear();
            _cache.TryAdd(word, result);
        }
        return result;
    }

    private struct Symbol
    {
        public int Id, Start, End, Prev, Next;
    }

    private int[] EncodeUncached(string word)
    {
        if (IgnoreMerges && _vocab.TryGetValue(word, out int whole)) return [whole, 0, word.Length];
        var symbols = new List<Symbol>(word.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int n = char.IsSurrogatePair(word, i) ? 2 : 1;
            if (_lookup.TryGetValue(word.AsSpan(i, n), out int id)) Add(id, i, i + n);
            else if (_byteIds is not null && ByteIds(word.AsSpan(i, n), utf8) is int count and > 0)
                for (int k = 0; k < count; k++) Add(_byteIds[utf8[k]], i, i + n);
            else if (UnkId >= 0)
            {
                if (FuseUnk && symbols.Count > 0 && symbols[^1].Id == UnkId)
                    symbols[^1] = symbols[^1] with { End = i + n };
                else Add(UnkId, i, i + n);
            }
            i += n;
        }
        MergeAll(symbols);
        var result = new List<int>(symbols.Count * 3);
        for (int i = symbols.Count == 0 ? -1 : 0; i != -1; i = symbols[i].Next)
            result.AddRange(symbols[i].Id, symbols[i].Start, symbols[i].End);
        return result.ToArray();

        void Add(int id, int start, int end) =>
            symbols.Add(new Symbol { Id = id, Start = start, End = end, Prev = symbols.Count - 1, Next = symbols.Count + 1 });
    }

    /// <summary>The byte-fallback ids' bytes of one character, or 0 when any &lt;0xXX&gt; piece is missing (then unk).</summary>
    private int ByteIds(ReadOnlySpan<char> ch, Span<byte> utf8)
    {
        if (Rune.DecodeFromUtf16(ch, out var rune, out _) != System.Buffers.OperationStatus.Done) rune = Rune.ReplacementChar;
        int n = rune.EncodeToUtf8(utf8);
        for (int k = 0; k < n; k++) if (_byteIds![utf8[k]] < 0) return 0;
        return n;
    }

    private void MergeAll(List<Symbol> list)
    {
        if (list.Count == 0) return;
        var s = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
        s[^1].Next = -1;
        var queue = new PriorityQueue<(int Pos, int Id), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < s.Length; i++) Push(s, i);
        var removed = new bool[s.Length];
        while (queue.TryDequeue(out var top, out var prio))
        {
            if (removed[top.Pos]) continue;
            ref var left = ref s[top.Pos];
            if (left.Next == -1) continue;
            ref var right = ref s[left.Next];
            if (!_merges.TryGetValue(Key(left.Id, right.Id), out var m) || m.Id != top.Id || m.Rank != prio.Rank) continue;
            int rightIndex = left.Next;
            left.Id = m.Id;
            left.End = right.End;
            left.Next = right.Next;
            if (right.Next != -1) s[right.Next].Prev = top.Pos;
            removed[rightIndex] = true;
            if (left.Prev != -1) Push(s, left.Prev);
            if (left.Next != -1) Push(s, top.Pos);
        }
        // Re-link: the first symbol is never removed (merges keep the left one).

        void Push(Span<Symbol> syms, int pos)
        {
            int next = syms[pos].Next;
            if (next != -1 && _merges.TryGetValue(Key(syms[pos].Id, syms[next].Id), out var m))
                queue.Enqueue((pos, m.Id), (m.Rank, pos));
        }
    }

    public int PieceToId(string piece) => _vocab.TryGetValue(piece, out int id) ? id : -1;
}
