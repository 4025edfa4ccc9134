namespace Engine.Data;

/// <summary>--packing: puts whole samples into rows of at most <c>windowLength</c> tokens, best-fit decreasing (TRL's
/// <c>bfd</c> strategy): samples longest first (ties in the given order), each into the open row with the least room
/// that still holds it, else into a new row. No sample is split across rows; one longer than the window is cut to it
/// (its last kept token still learns the label after it). Each row records where every token's sample starts, so
/// positions restart at 0 for each sample and no sample attends to another (see <see cref="TrainingSequence.SegmentStarts"/>).
/// Rows are as long as their samples; <see cref="Batch.Collate"/> pads. The result depends only on the samples and
/// their order, so a resumed run packs the same rows. Rows with no learned target are left out.</summary>
internal static class SequencePacker
{
    public static List<TrainingSequence> Pack(IReadOnlyList<EncodedSample> samples, int windowLength, out int droppedWindows)
    {
        if (windowLength < 1) throw new EngineException($"the packing window must be at least 1 token, got {windowLength}");
        var pieces = new TrainingSequence[samples.Count];
        for (int i = 0; i < pieces.Length; i++) pieces[i] = TrainingSequence.FromSample(samples[i], windowLength);
        var order = Enumerable.Range(0, pieces.Length).Where(i => pieces[i].Length > 0)
            .OrderByDescending(i => pieces[i].Length).ToArray(); // stable: equal lengths keep the given order

        // Open rows by (room left, row index): the smallest room ≥ a length is one ordered lookup.
        var rooms = new SortedSet<(int Room, int Row)>();
        var rows = new List<List<int>>();
        foreach (int i in order)
        {
            int len = pieces[i].Length;
            var best = rooms.GetViewBetween((len, int.MinValue), (int.MaxValue, int.MaxValue)).Min;
            int row;
            if (best.Room >= len)
            {
                rooms.Remove(best);
                row = best.Row;
            }
            else
            {
                row = rows.Count;
                rows.Add(new List<int>());
                best = (windowLength, row);
            }
            rows[row].Add(i);
            if (best.Room - len > 0) rooms.Add((best.Room - len, row));
        }

        var windows = new List<TrainingSequence>(rows.Count);
        droppedWindows = 0;
        foreach (var members in rows)
        {
            int n = members.Sum(i => pieces[i].Length);
            var ids = new int[n];
            var targets = new int[n];
            var starts = new int[n];
            int at = 0;
            foreach (int i in members)
            {
                var p = pieces[i];
                p.InputIds.CopyTo(ids, at);
                p.Targets.CopyTo(targets, at);
                starts.AsSpan(at, p.Length).Fill(at);
                at += p.Length;
            }
            var w = new TrainingSequence(ids, targets, members.Count > 1 ? starts : null);
            if (w.LearnedCount == 0) droppedWindows++;
            else windows.Add(w);
        }
        return windows;
    }
}
