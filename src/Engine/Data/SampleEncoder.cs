using System.Text;
using Engine.Tokenizers;

namespace Engine.Data;

/// <summary>Tokenizes rendered samples and builds labels (FastChat semantics).
/// <list type="bullet">
/// <item>BOS comes first: added when the tokenizer adds one (<see cref="ITokenizer.AddBos"/>, and it has a BOS) unless
/// the template starts with a BOS segment or its first text is template-written and starts with the BOS token's text
/// (Llama 3's template writes "&lt;|begin_of_text|&gt;" itself), so never twice. BOS/EOS segments are inserted as
/// <see cref="ITokenizer.BosId"/>/<see cref="ITokenizer.EosId"/>. Special-token strings are parsed only in
/// template-written text (<see cref="TemplateSegment.TemplateWritten"/>, passed as special ranges to
/// <see cref="ITokenizer.EncodeWithSpans(string, IReadOnlyList{TextRange})"/>); message content is never parsed, so a
/// literal "&lt;/s&gt;" in the data stays text.</item>
/// <item>Consecutive text segments form one chunk, encoded on its own (each chunk gets SentencePiece's dummy prefix),
/// which is what HF's legacy Llama tokenizer does to the text between special tokens.</item>
/// <item>A token is learned when any character of its source span lies in a learned segment (a zero-length span
/// counts as the character it starts at). So a token straddling the start of a reply is learned: in
/// "ASSISTANT: Hi", "▁Hi" covers the space before the reply and is learned, the first token after "ASSISTANT:", as
/// in FastChat (which masks len(tokenize("... ASSISTANT: ")) − 2 tokens). Replies are always followed by EOS or by a
/// learned separator, so no token straddles the end of one in the built-in templates.</item>
/// <item>A learned EOS segment is learned (the EOS closing each assistant turn, as FastChat trains it).</item>
/// <item>With <c>trainOnInputs</c> every token but the first BOS is learned.</item>
/// <item>Samples longer than <c>maxLength</c> keep their first <c>maxLength</c> tokens (BOS included), labels alike;
/// a sample with no learned token left is dropped (<see cref="Encode"/> returns null).</item>
/// </list></summary>
internal sealed class SampleEncoder
{
    private readonly ITokenizer _tokenizer;
    private readonly ChatTemplate _template;

    public SampleEncoder(ITokenizer tokenizer, ChatTemplate template, int maxLength, bool trainOnInputs = false)
    {
        if (maxLength < 2) throw new EngineException($"the maximum sequence length must be at least 2, got {maxLength}");
        _tokenizer = tokenizer;
        _template = template;
        MaxLength = maxLength;
        TrainOnInputs = trainOnInputs;
    }

    public int MaxLength { get; }
    public bool TrainOnInputs { get; }
    public ChatTemplate Template => _template;

    /// <summary>The sample truncated to <see cref="MaxLength"/>, or null when it has no learned token left.</summary>
    public EncodedSample? Encode(Sample sample)
    {
        var full = EncodeUntruncated(sample);
        var encoded = Truncate(full);
        return encoded.LearnedCount == 0 ? null : encoded;
    }

    /// <summary>Encodes every sample, dropping those with nothing to learn.</summary>
    public (List<EncodedSample> Samples, EncodeStats Stats) EncodeAll(IReadOnlyList<Sample> samples) =>
        Collect(samples.Select(Encode).ToList());

    /// <summary>The kept samples of <see cref="Encode"/> results (null: dropped) and their statistics.</summary>
    public static (List<EncodedSample> Samples, EncodeStats Stats) Collect(IReadOnlyList<EncodedSample?> encoded)
    {
        var kept = new List<EncodedSample>(encoded.Count);
        int dropped = 0, truncated = 0, longest = 0;
        long tokens = 0, learned = 0;
        foreach (var e in encoded)
        {
            if (e is null) { dropped++; continue; }
            kept.Add(e);
            if (e.Truncated) truncated++;
            tokens += e.Length;
            learned += e.LearnedCount;
            longest = Math.Max(longest, e.Length);
        }
        return (kept, new EncodeStats(encoded.Count, kept.Count, dropped, truncated, tokens, learned, longest));
    }

    /// <summary>The whole sample, not truncated.</summary>
    public EncodedSample EncodeUntruncated(Sample sample) => EncodeSegments(_template.Render(sample), sample.Index);

    public EncodedSample EncodeSegments(IReadOnlyList<TemplateSegment> segments, int sampleIndex)
    {
        var ids = new List<int>();
        var learned = new List<bool>();
        if (NeedsBos(segments)) { ids.Add(_tokenizer.BosId); learned.Add(false); }

        var chunk = new StringBuilder();
        var learnedRanges = new List<(int Start, int End)>();
        var specialRanges = new List<TextRange>();
        foreach (var seg in segments)
        {
            if (seg.Kind == SegmentKind.Text)
            {
                if (seg.Learned && seg.Text.Length > 0) learnedRanges.Add((chunk.Length, chunk.Length + seg.Text.Length));
                if (seg.TemplateWritten && seg.Text.Length > 0) AddRange(specialRanges, chunk.Length, seg.Text.Length);
                chunk.Append(seg.Text);
                continue;
            }
            FlushChunk();
            int id = seg.Kind == SegmentKind.Bos ? _tokenizer.BosId : _tokenizer.EosId;
            if (id < 0) throw new EngineException($"template {_template.Name} inserts {seg.Kind.ToString().ToUpperInvariant()}, but the tokenizer has no such token");
            ids.Add(id);
            learned.Add(ids.Count > 1 && (seg.Learned || TrainOnInputs));
        }
        FlushChunk();

        var labels = new int[ids.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = learned[i] ? ids[i] : EncodedSample.IgnoreIndex;
        // Position 0 is never a target (labels shift left by one); keep it -100 even when it is not a BOS.
        if (labels.Length > 0) labels[0] = EncodedSample.IgnoreIndex;
        return new EncodedSample(ids.ToArray(), labels, sampleIndex);

        void FlushChunk()
        {
            if (chunk.Length == 0) return;
            var spans = specialRanges.Count > 0 ? _tokenizer.EncodeWithSpans(chunk.ToString(), specialRanges) : _tokenizer.EncodeWithSpans(chunk.ToString());
            foreach (var t in spans)
            {
                ids.Add(t.Id);
                learned.Add(TrainOnInputs || Overlaps(t, learnedRanges));
            }
            chunk.Clear();
            learnedRanges.Clear();
            specialRanges = new List<TextRange>();
        }
    }

    /// <summary>Whether a BOS id goes in front (see the class summary).</summary>
    private bool NeedsBos(IReadOnlyList<TemplateSegment> segments)
    {
        if (!_tokenizer.AddBos || _tokenizer.BosId < 0) return false;
        if (segments.Count == 0) return true;
        if (segments[0].Kind == SegmentKind.Bos) return false;
        var first = segments[0];
        if (first.Kind != SegmentKind.Text || !first.TemplateWritten) return true;
        var bos = _tokenizer.IdToPiece(_tokenizer.BosId);
        return !(bos.Length > 0 && first.Text.StartsWith(bos, StringComparison.Ordinal));
    }

    /// <summary>Appends [start, start+length), merging with the previous range when they touch.</summary>
    private static void AddRange(List<TextRange> ranges, int start, int length)
    {
        if (ranges.Count > 0 && ranges[^1].End == start) ranges[^1] = new TextRange(ranges[^1].Start, ranges[^1].Length + length);
        else ranges.Add(new TextRange(start, length));
    }

    private static bool Overlaps(TokenSpan t, List<(int Start, int End)> ranges)
    {
        int start = t.Start, end = t.Start + Math.Max(t.Length, 1);
        foreach (var (s, e) in ranges)
            if (start < e && s < end) return true;
        return false;
    }

    private EncodedSample Truncate(EncodedSample e)
    {
        if (e.Length <= MaxLength) return e;
        return new EncodedSample(e.InputIds[..MaxLength], e.Labels[..MaxLength], e.SampleIndex, truncated: true);
    }
}
