using Engine.Tensors;

namespace Engine.Data;

/// <summary>Yields padded batches of training sequences, epoch after epoch. The order of epoch e depends only on
/// (seed, e, the sequences' count and lengths), never on what was yielded before, so a loader restored to a saved
/// <see cref="Position"/> continues exactly. The last batch of an epoch may be smaller than the batch size.
/// <para>Shuffle: a seeded permutation per epoch. Group by length (HF's LengthGroupedSampler): the permutation is cut
/// into megabatches of batchSize·min(50, max(1, n/(4·batchSize))) sequences, each sorted longest first and cut into
/// batches; the batch holding the longest sequence is moved to the front so a too-large batch fails on the first
/// step.</para></summary>
internal sealed class DataLoader
{
    private readonly IReadOnlyList<TrainingSequence> _sequences;
    private int _plannedEpoch = -1;
    private List<int[]> _plan = new();

    public DataLoader(IReadOnlyList<TrainingSequence> sequences, int batchSize, int padId, ulong seed, bool shuffle = true, bool groupByLength = false)
    {
        if (sequences.Count == 0) throw new EngineException("the data loader has no sequences (every sample was dropped?)");
        if (batchSize < 1) throw new EngineException($"the batch size must be at least 1, got {batchSize}");
        _sequences = sequences;
        BatchSize = batchSize;
        PadId = padId;
        Seed = seed;
        Shuffle = shuffle;
        GroupByLength = groupByLength;
        BatchesPerEpoch = (sequences.Count + batchSize - 1) / batchSize;
        Fingerprint = ComputeFingerprint();
    }

    public int BatchSize { get; }
    public int PadId { get; }
    public ulong Seed { get; }
    public bool Shuffle { get; }
    public bool GroupByLength { get; }
    public int BatchesPerEpoch { get; }
    public int Count => _sequences.Count;
    public IReadOnlyList<TrainingSequence> Sequences => _sequences;

    /// <summary>A hash of the settings and every sequence's ids and targets. Store it with <see cref="Position"/> and
    /// compare on resume: a different value means the data, tokenizer or settings changed.</summary>
    public ulong Fingerprint { get; }

    private LoaderPosition _position;

    /// <summary>The next batch <see cref="Next"/> will return.</summary>
    public LoaderPosition Position
    {
        get => _position;
        set
        {
            if (value.Epoch < 0 || value.Batch < 0 || value.Batch > BatchesPerEpoch)
                throw new EngineException($"data loader position {value} is out of range: an epoch has {BatchesPerEpoch} batches");
            _position = value.Batch == BatchesPerEpoch ? new LoaderPosition(value.Epoch + 1, 0) : value;
        }
    }

    /// <summary>The batch at <see cref="Position"/>; advances, rolling over into the next epoch.</summary>
    public Batch Next()
    {
        var batch = GetBatch(_position.Epoch, _position.Batch);
        _position = _position.Batch + 1 == BatchesPerEpoch ? new LoaderPosition(_position.Epoch + 1, 0) : _position with { Batch = _position.Batch + 1 };
        return batch;
    }

    /// <summary>Every batch of one epoch, in order (does not move <see cref="Position"/>).</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        for (int i = 0; i < BatchesPerEpoch; i++) yield return GetBatch(epoch, i);
    }

    public Batch GetBatch(int epoch, int index)
    {
        if ((uint)index >= (uint)BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(index));
        var members = Plan(epoch)[index];
        var rows = new TrainingSequence[members.Length];
        for (int i = 0; i < rows.Length; i++) rows[i] = _sequences[members[i]];
        return Batch.Collate(rows, PadId, new LoaderPosition(epoch, index));
    }

    /// <summary>The sequence indices of each batch of <paramref name="epoch"/>.</summary>
    public IReadOnlyList<int[]> Plan(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch));
        if (epoch == _plannedEpoch) return _plan;
        int n = _sequences.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        // A fresh generator per epoch, so epoch e's order never depends on how many epochs ran before.
        var rng = new Rng(Seed ^ (0xD6E8FEB86659FD93UL * (ulong)(epoch + 1)));
        if (Shuffle || GroupByLength) rng.Shuffle(order);

        var plan = new List<int[]>(BatchesPerEpoch);
        if (GroupByLength)
        {
            int mult = Math.Clamp(n / (4 * BatchSize), 1, 50);
            int mega = BatchSize * mult;
            for (int m = 0; m < n; m += mega)
            {
                var group = order.AsSpan(m, Math.Min(mega, n - m)).ToArray();
                // Stable order among equal lengths: by length descending, then by position in the permutation.
                var sorted = group.Select((idx, pos) => (idx, pos)).OrderByDescending(x => _sequences[x.idx].Length).ThenBy(x => x.pos).Select(x => x.idx).ToArray();
                for (int b = 0; b < sorted.Length; b += BatchSize) plan.Add(sorted.AsSpan(b, Math.Min(BatchSize, sorted.Length - b)).ToArray());
            }
            int longest = 0;
            for (int b = 1; b < plan.Count; b++)
                if (_sequences[plan[b][0]].Length > _sequences[plan[longest][0]].Length) longest = b;
            (plan[0], plan[longest]) = (plan[longest], plan[0]);
        }
        else
        {
            for (int b = 0; b < n; b += BatchSize) plan.Add(order.AsSpan(b, Math.Min(BatchSize, n - b)).ToArray());
        }
        _plannedEpoch = epoch;
        _plan = plan;
        return plan;
    }

    private ulong ComputeFingerprint()
    {
        // FNV-1a over settings and contents.
        ulong h = 14695981039346656037UL;
        void Mix(long v) { h = (h ^ (ulong)v) * 1099511628211UL; }
        Mix(BatchSize); Mix(PadId); Mix((long)Seed); Mix(Shuffle ? 1 : 0); Mix(GroupByLength ? 1 : 0); Mix(_sequences.Count);
        foreach (var s in _sequences)
        {
            Mix(s.Length);
            foreach (var id in s.InputIds) Mix(id);
            foreach (var t in s.Targets) Mix(t);
            if (s.SegmentStarts is { } starts) // packed rows only, so unpacked runs keep their fingerprints
                foreach (var p in starts) Mix(p);
        }
        return h;
    }
}
