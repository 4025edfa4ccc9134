using System.Text;

namespace Engine.Tokenizers;

/// <summary>SentencePiece BPE encoding over a <see cref="TokenVocabulary"/> (the algorithm of SentencePiece's
/// bpe_model.cc, which llama2.c's encode() and llama.cpp's SPM tokenizer reproduce): split normalized text into
/// characters (user-defined pieces whole), then repeatedly merge the adjacent pair whose concatenation is a piece with
/// the highest score, the leftmost pair on ties; characters left without a piece become byte-fallback tokens (or unk).
/// Candidate pairs live in a priority queue and stale ones are dropped when popped, so long texts cost O(n log n).</summary>
internal sealed class BpeEncoder
{
    private readonly TokenVocabulary _vocab;

    public BpeEncoder(TokenVocabulary vocab) => _vocab = vocab;

    private struct Symbol
    {
        public int Start, Length, Prev, Next, Id;
        public bool Frozen;
    }

    private readonly record struct Candidate(int Left, int Right, int Id, int Length);

    /// <summary>Higher score first; on equal scores the leftmost pair (symbol indices follow text order).</summary>
    private sealed class CandidateOrder : IComparer<(float Score, int Left)>
    {
        public static readonly CandidateOrder Instance = new();
        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            int c = b.Score.CompareTo(a.Score);
            return c != 0 ? c : a.Left.CompareTo(b.Left);
        }
    }

    public void Encode(string text, List<TokenSpan> output)
    {
        ArgumentNullException.ThrowIfNull(text);
        string norm = SpmNormalizer.Normalize(text, _vocab.AddDummyPrefix, _vocab.RemoveExtraWhitespaces, out int[] origin);
        if (norm.Length == 0) return;

        var symbols = Segment(norm, out int count);
        Dictionary<int, int>? unusedSplits = Merge(norm, symbols, count);

        var emitter = new Emitter(_vocab, norm, origin, text.Length, output, unusedSplits);
        for (int i = 0; i != -1; i = symbols[i].Next)
            emitter.Emit(symbols[i].Start, symbols[i].Length, symbols[i].Id);
    }

    /// <summary>Initial symbols: one per code point, or one per user-defined piece (longest match, frozen).</summary>
    private Symbol[] Segment(string norm, out int count)
    {
        var symbols = new Symbol[norm.Length];
        var matchable = _vocab.Matchable;
        var userDefined = _vocab.UserDefined;
        int n = 0;
        for (int pos = 0; pos < norm.Length;)
        {
            int len = 0, id = -1;
            bool frozen = false;
            if (userDefined is { } ud)
            {
                for (int l = Math.Min(_vocab.MaxUserDefinedLength, norm.Length - pos); l >= 1; l--)
                {
                    if (ud.Contains(norm.AsSpan(pos, l)))
                    {
                        len = l;
                        id = matchable[norm.AsSpan(pos, l)];
                        frozen = true;
                        break;
                    }
                }
            }
            if (len == 0)
            {
                len = char.IsHighSurrogate(norm[pos]) && pos + 1 < norm.Length && char.IsLowSurrogate(norm[pos + 1]) ? 2 : 1;
                id = matchable.TryGetValue(norm.AsSpan(pos, len), out int found) ? found : -1;
            }
            symbols[n] = new Symbol { Start = pos, Length = len, Prev = n - 1, Next = -1, Id = id, Frozen = frozen };
            if (n > 0) symbols[n - 1].Next = n;
            n++;
            pos += len;
        }
        count = n;
        return symbols;
    }

    /// <summary>Runs the merges in place. Returns, for unused pieces that were formed, the length of their left part
    /// (SentencePiece merges through unused pieces but splits them back afterwards); null when none was formed.</summary>
    private Dictionary<int, int>? Merge(string norm, Symbol[] symbols, int count)
    {
        var queue = new PriorityQueue<Candidate, (float, int)>(Math.Max(count, 1), CandidateOrder.Instance);
        for (int i = 0; i + 1 < count; i++) TryAdd(norm, symbols, queue, i, i + 1);

        Dictionary<int, int>? unusedSplits = null;
        var kinds = _vocab.Kinds;
        while (queue.TryDequeue(out var c, out _))
        {
            ref var left = ref symbols[c.Left];
            ref var right = ref symbols[c.Right];
            // Stale when either side was merged away or grew since the candidate was queued.
            if (left.Length == 0 || right.Length == 0 || left.Next != c.Right || left.Length + right.Length != c.Length)
                continue;
            if (kinds[c.Id] == TokenKind.Unused) (unusedSplits ??= new())[c.Id] = left.Length;
            left.Length = c.Length;
            left.Id = c.Id;
            left.Next = right.Next;
            if (right.Next != -1) symbols[right.Next].Prev = c.Left;
            right.Length = 0;
            if (left.Prev != -1) TryAdd(norm, symbols, queue, left.Prev, c.Left);
            if (left.Next != -1) TryAdd(norm, symbols, queue, c.Left, left.Next);
        }
        return unusedSplits;
    }

    private void TryAdd(string norm, Symbol[] symbols, PriorityQueue<Candidate, (float, int)> queue, int l, int r)
    {
        ref var a = ref symbols[l];
        ref var b = ref symbols[r];
        if (a.Frozen || b.Frozen) return;
        int len = a.Length + b.Length;
        if (!_vocab.Matchable.TryGetValue(norm.AsSpan(a.Start, len), out int id)) return;
        queue.Enqueue(new Candidate(l, r, id, len), (_vocab.Scores[id], l));
    }

    /// <summary>Turns final symbols into tokens with input spans: splits unused pieces back, and maps pieceless
    /// characters to their UTF-8 byte tokens (or unk).</summary>
    private readonly struct Emitter(TokenVocabulary vocab, string norm, int[] origin, int textLength,
        List<TokenSpan> output, Dictionary<int, int>? unusedSplits)
    {
        public void Emit(int start, int length, int id)
        {
            if (id >= 0 && unusedSplits is not null && unusedSplits.TryGetValue(id, out int leftLength) && leftLength < length)
            {
                Emit(start, leftLength, Lookup(start, leftLength));
                Emit(start + leftLength, length - leftLength, Lookup(start + leftLength, length - leftLength));
                return;
            }
            var (spanStart, spanLength) = SourceSpan(start, length);
            if (id >= 0)
            {
                output.Add(new TokenSpan(id, spanStart, spanLength));
                return;
            }
            if (vocab.ByteIds is not { } byteIds)
            {
                output.Add(new TokenSpan(vocab.UnkId, spanStart, spanLength));
                return;
            }
            // A lone surrogate has no UTF-8 form; it falls back as U+FFFD, the replacement .NET's encoder uses too.
            if (Rune.DecodeFromUtf16(norm.AsSpan(start, length), out var rune, out _) != System.Buffers.OperationStatus.Done)
                rune = Rune.ReplacementChar;
            Span<byte> utf8 = stackalloc byte[4];
            int n = rune.EncodeToUtf8(utf8);
            for (int i = 0; i < n; i++) output.Add(new TokenSpan(byteIds[utf8[i]], spanStart, spanLength));
        }

        private int Lookup(int start, int length) =>
            vocab.Matchable.TryGetValue(norm.AsSpan(start, length), out int id) ? id : -1;

        /// <summary>The input span of normalized chars [start, start+length); the dummy prefix covers no input.</summary>
        private (int Start, int Length) SourceSpan(int start, int length)
        {
            int end = start + length;
            if (origin[start] < 0) start++;
            if (start >= end)
            {
                int at = start < origin.Length ? origin[start] : textLength;
                return (at, 0);
            }
            return (origin[start], origin[end - 1] + 1 - origin[start]);
        }
    }
}
