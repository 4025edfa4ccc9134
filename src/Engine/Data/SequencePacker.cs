namespace Engine.Data;

/// <summary>--packing: concatenates encoded samples (each starting with its BOS, in the given order) into one stream and
/// cuts it into windows of exactly <c>windowLength</c> tokens. Attention is not reset at sample boundaries (plain packing,
/// as HF's group_texts). Because targets are shifted before cutting, a window's last target is the label of the next
/// window's first token, so no learned token is lost at a boundary. The last partial window is padded with
/// <c>padId</c> and −100 targets rather than dropped, so a small dataset keeps all its tokens. Windows with no
/// learned target are left out.</summary>
internal static class SequencePacker
{
    public static List<TrainingSequence> Pack(IReadOnlyList<EncodedSample> samples, int windowLength, int padId, out int droppedWindows)
    {
        if (windowLength < 1) throw new EngineException($"the packing window must be at least 1 token, got {windowLength}");
        long total = 0;
        foreach (var s in samples) total += s.Length;
        if (total > int.MaxValue) throw new EngineException($"packing {total} tokens at once is not supported (over 2^31)");
        var ids = new int[total];
        var labels = new int[total];
        int at = 0;
        foreach (var s in samples)
        {
            s.InputIds.CopyTo(ids, at);
            s.Labels.CopyTo(labels, at);
            at += s.Length;
        }

        var windows = new List<TrainingSequence>((int)(total / windowLength) + 1);
        droppedWindows = 0;
        for (int start = 0; start < total; start += windowLength)
        {
            var wIds = new int[windowLength];
            var wTargets = new int[windowLength];
            int n = (int)Math.Min(windowLength, total - start);
            Array.Copy(ids, start, wIds, 0, n);
            wIds.AsSpan(n).Fill(padId);
            wTargets.AsSpan().Fill(EncodedSample.IgnoreIndex);
            int withTarget = (int)Math.Min(windowLength, total - start - 1);
            if (withTarget > 0) Array.Copy(labels, start + 1, wTargets, 0, withTarget);
            var w = new TrainingSequence(wIds, wTargets);
            if (w.LearnedCount == 0) droppedWindows++;
            else windows.Add(w);
        }
        return windows;
    }
}
