using Engine.Data;

namespace Engine.Tests.Data;

public class BatchingTests
{
    private const int I = EncodedSample.IgnoreIndex;

    private static EncodedSample Sample(int[] ids, int[] labels) => new(ids, labels, 0);

    [Fact]
    public void Targets_are_labels_shifted_left_by_one()
    {
        var s = TrainingSequence.FromSample(Sample(new[] { 1, 10, 11, 12, 2 }, new[] { I, I, 11, 12, 2 }));
        Assert.Equal(new[] { I, 11, 12, 2, I }, s.Targets);
        Assert.Equal(new[] { 1, 10, 11, 12, 2 }, s.InputIds);
        Assert.Equal(3, s.LearnedCount);
    }

    [Fact]
    public void Padding_pads_each_batch_to_its_longest_row()
    {
        var a = TrainingSequence.FromSample(Sample(new[] { 1, 10, 11 }, new[] { I, I, 11 }));
        var b = TrainingSequence.FromSample(Sample(new[] { 1, 20, 21, 22, 2 }, new[] { I, 20, 21, 22, 2 }));
        var batch = Batch.Collate(new[] { a, b }, padId: 0, new LoaderPosition(0, 0));
        Assert.Equal(2, batch.BatchSize);
        Assert.Equal(5, batch.SeqLen);
        Assert.Equal(new[] { 1, 10, 11, 0, 0, 1, 20, 21, 22, 2 }, batch.InputIds);
        Assert.Equal(new[] { I, 11, I, I, I, 20, 21, 22, 2, I }, batch.Targets);
        Assert.Equal(new[] { 3, 5 }, batch.Lengths);
        Assert.Equal(5, batch.LearnedTokens);
    }

    [Fact]
    public void Packing_puts_whole_samples_into_rows_best_fit_decreasing_with_their_segment_starts()
    {
        // Lengths 5, 3, 4, 2, 6 into rows of 8. Longest first: 6 opens row 0 (room 2), 5 opens row 1 (room 3), 4 fits
        // neither and opens row 2 (room 4), 3 takes row 1 (exact fit beats room 4), 2 takes row 0 (room 2 beats 4).
        var samples = new[] { Ramp(0, 5), Ramp(1, 3), Ramp(2, 4), Ramp(3, 2), Ramp(4, 6) };
        var rows = SequencePacker.Pack(samples, windowLength: 8, out int dropped);
        Assert.Equal(0, dropped);
        Assert.Equal(3, rows.Count);
        Assert.Equal(new[] { 400, 401, 402, 403, 404, 405, 300, 301 }, rows[0].InputIds);
        Assert.Equal(new[] { 401, 402, 403, 404, 405, I, 301, I }, rows[0].Targets); // nothing learned across a sample boundary
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 0, 6, 6 }, rows[0].SegmentStarts);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 100, 101, 102 }, rows[1].InputIds);
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 5, 5, 5 }, rows[1].SegmentStarts);
        Assert.Equal(new[] { 200, 201, 202, 203 }, rows[2].InputIds);
        Assert.Null(rows[2].SegmentStarts); // a row of one sample needs no mask
        // Every learned target of every sample is kept, exactly once.
        Assert.Equal(samples.Sum(x => x.LearnedCount), rows.Sum(r => r.LearnedCount));
    }

    [Fact]
    public void Packing_cuts_a_sample_longer_than_the_window_keeping_the_label_after_its_last_token()
    {
        var rows = SequencePacker.Pack(new[] { Ramp(0, 6), Ramp(1, 2) }, windowLength: 4, out int dropped);
        Assert.Equal(0, dropped);
        Assert.Equal(2, rows.Count);
        Assert.Equal(new[] { 0, 1, 2, 3 }, rows[0].InputIds);
        Assert.Equal(new[] { 1, 2, 3, 4 }, rows[0].Targets);
        Assert.Equal(new[] { 100, 101 }, rows[1].InputIds);
    }

    [Fact]
    public void Collating_packed_rows_gives_the_padding_a_segment_of_its_own()
    {
        var packed = new TrainingSequence(new[] { 1, 10, 1, 20, 21 }, new[] { 10, I, 20, 21, I }, new[] { 0, 0, 2, 2, 2 });
        var single = TrainingSequence.FromSample(Sample(new[] { 1, 30, 31 }, new[] { I, 30, 31 }));
        var batch = Batch.Collate(new[] { single, packed }, padId: 0, new LoaderPosition(0, 0));
        Assert.Equal(new[] { 0, 0, 0, 3, 3, 0, 0, 2, 2, 2 }, batch.SegmentStarts);
        Assert.Null(Batch.Collate(new[] { single }, padId: 0, new LoaderPosition(0, 0)).SegmentStarts);
    }

    [Fact]
    public void Packing_keeps_the_loader_fingerprint_apart_from_unpacked_rows_of_the_same_tokens()
    {
        var packed = new TrainingSequence(new[] { 1, 10, 1, 20 }, new[] { 10, I, 20, I }, new[] { 0, 0, 2, 2 });
        var plain = new TrainingSequence(new[] { 1, 10, 1, 20 }, new[] { 10, I, 20, I });
        Assert.NotEqual(new DataLoader(new[] { packed }, 1, 0, 1).Fingerprint, new DataLoader(new[] { plain }, 1, 0, 1).Fingerprint);
    }

    [Fact]
    public void A_loader_over_packed_rows_resumed_at_a_position_yields_the_same_batches()
    {
        var rng = new Engine.Tensors.Rng(9);
        var samples = Enumerable.Range(0, 40).Select(n => Ramp(n, 1 + rng.NextInt(30))).ToArray();
        var first = new DataLoader(SequencePacker.Pack(samples, 32, out _), batchSize: 3, padId: 0, seed: 11);
        var want = Enumerable.Range(0, first.BatchesPerEpoch * 2).Select(_ => first.Next()).ToList();
        Assert.Contains(want, b => b.SegmentStarts is not null);

        // A new process: the samples packed again, the loader restored to a saved position.
        var resumed = new DataLoader(SequencePacker.Pack(samples, 32, out _), batchSize: 3, padId: 0, seed: 11);
        Assert.Equal(first.Fingerprint, resumed.Fingerprint);
        int at = first.BatchesPerEpoch + 1;
        resumed.Position = want[at].Position;
        for (int i = at; i < want.Count; i++)
        {
            var b = resumed.Next();
            Assert.Equal(want[i].InputIds, b.InputIds);
            Assert.Equal(want[i].Targets, b.Targets);
            Assert.Equal(want[i].SegmentStarts, b.SegmentStarts);
        }
    }

    /// <summary>Sample <paramref name="n"/>: ids 100n, 100n+1, …; every label learned but BOS's.</summary>
    private static EncodedSample Ramp(int n, int length)
    {
        var ids = Enumerable.Range(100 * n, length).ToArray();
        return Sample(ids, ids.Select((x, t) => t == 0 ? I : x).ToArray());
    }

    private static List<TrainingSequence> Sequences(int n, Func<int, int> length)
    {
        var list = new List<TrainingSequence>();
        for (int i = 0; i < n; i++)
        {
            int len = length(i);
            var ids = Enumerable.Range(0, len).Select(t => i * 1000 + t).ToArray();
            list.Add(TrainingSequence.FromSample(Sample(ids, ids.Select((x, t) => t == 0 ? I : x).ToArray())));
        }
        return list;
    }

    private static int FirstId(Batch b, int row) => b.InputIds[row * b.SeqLen];

    [Fact]
    public void Shuffled_epochs_cover_every_sequence_once_and_differ_between_epochs()
    {
        var loader = new DataLoader(Sequences(10, i => 3 + i % 4), batchSize: 3, padId: 0, seed: 5);
        Assert.Equal(4, loader.BatchesPerEpoch);
        var e0 = loader.Epoch(0).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => FirstId(b, r) / 1000)).ToList();
        var e1 = loader.Epoch(1).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => FirstId(b, r) / 1000)).ToList();
        Assert.Equal(Enumerable.Range(0, 10), e0.Order());
        Assert.Equal(Enumerable.Range(0, 10), e1.Order());
        Assert.NotEqual(e0, e1);
        Assert.Equal(1, loader.GetBatch(0, 3).BatchSize); // the last batch keeps the remainder
        // Same seed → same order; another seed → another.
        Assert.Equal(e0, new DataLoader(Sequences(10, i => 3 + i % 4), 3, 0, seed: 5).Epoch(0).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => FirstId(b, r) / 1000)));
        Assert.NotEqual(e0, new DataLoader(Sequences(10, i => 3 + i % 4), 3, 0, seed: 6).Epoch(0).SelectMany(b => Enumerable.Range(0, b.BatchSize).Select(r => FirstId(b, r) / 1000)));
    }

    [Fact]
    public void Unshuffled_loader_keeps_order()
    {
        var loader = new DataLoader(Sequences(5, _ => 2), batchSize: 2, padId: 0, seed: 1, shuffle: false);
        Assert.Equal(new[] { 0, 1000 }, loader.GetBatch(3, 0).InputIds.Where((_, i) => i % 2 == 0));
    }

    [Fact]
    public void A_loader_restored_at_position_k_yields_the_same_batches_as_the_original_from_k_on()
    {
        foreach (bool group in new[] { false, true })
        {
            var data = Sequences(23, i => 2 + (i * 7) % 11);
            var original = new DataLoader(data, batchSize: 4, padId: 0, seed: 99, groupByLength: group);
            var all = new List<Batch>();
            for (int i = 0; i < 20; i++) all.Add(original.Next()); // 6 batches per epoch: crosses three epoch boundaries
            Assert.Equal(new LoaderPosition(3, 2), original.Position);

            for (int k = 0; k < 20; k += 3)
            {
                var saved = all[k].Position.ToString();
                var restored = new DataLoader(Sequences(23, i => 2 + (i * 7) % 11), 4, 0, 99, groupByLength: group)
                {
                    Position = LoaderPosition.Parse(saved),
                };
                Assert.Equal(original.Fingerprint, restored.Fingerprint);
                for (int j = k; j < 20; j++)
                {
                    var b = restored.Next();
                    Assert.Equal(all[j].InputIds, b.InputIds);
                    Assert.Equal(all[j].Targets, b.Targets);
                    Assert.Equal(all[j].Position, b.Position);
                }
            }
        }
    }

    [Fact]
    public void Fingerprint_changes_with_data_or_settings()
    {
        var a = new DataLoader(Sequences(6, _ => 3), 2, 0, 1).Fingerprint;
        Assert.NotEqual(a, new DataLoader(Sequences(6, _ => 4), 2, 0, 1).Fingerprint);
        Assert.NotEqual(a, new DataLoader(Sequences(6, _ => 3), 3, 0, 1).Fingerprint);
        Assert.NotEqual(a, new DataLoader(Sequences(6, _ => 3), 2, 0, 2).Fingerprint);
    }

    [Fact]
    public void Position_validation_and_parse()
    {
        var loader = new DataLoader(Sequences(4, _ => 2), 2, 0, 1);
        loader.Position = new LoaderPosition(1, 2); // one past the last batch = start of the next epoch
        Assert.Equal(new LoaderPosition(2, 0), loader.Position);
        Assert.Throws<EngineException>(() => loader.Position = new LoaderPosition(0, 3));
        Assert.Equal(new LoaderPosition(7, 12), LoaderPosition.Parse("7:12"));
        Assert.Throws<EngineException>(() => LoaderPosition.Parse("7"));
    }

    [Fact]
    public void Group_by_length_makes_batches_of_similar_length_longest_first()
    {
        var lengths = Enumerable.Range(0, 64).Select(i => 2 + (i * 37) % 61).ToArray();
        var loader = new DataLoader(Sequences(64, i => lengths[i]), batchSize: 4, padId: 0, seed: 3, groupByLength: true);
        // 64 / (4·4) = 4 → megabatches of 16 sequences, each sorted longest first.
        var plan = loader.Plan(0);
        Assert.Equal(16, plan.Count);
        Assert.Equal(Enumerable.Range(0, 64), plan.SelectMany(b => b).Order());
        Assert.Equal(lengths.Max(), loader.GetBatch(0, 0).SeqLen);
        foreach (var b in plan) Assert.True(b.Select(i => lengths[i]).Zip(b.Skip(1).Select(i => lengths[i])).All(p => p.First >= p.Second));
        // Padding waste is far below that of a random batching of the same data.
        long Waste(DataLoader l) => l.Epoch(0).Sum(b => (long)b.BatchSize * b.SeqLen - b.Lengths.Sum());
        Assert.True(Waste(loader) * 3 < Waste(new DataLoader(Sequences(64, i => lengths[i]), 4, 0, 3)));
        Assert.Equal(16, loader.Plan(1).Count);
        Assert.NotEqual(plan.Select(b => b[0]), loader.Plan(1).Select(b => b[0]));
    }

    [Fact]
    public void Eval_split_is_deterministic_disjoint_and_keeps_file_order()
    {
        var samples = Enumerable.Range(0, 100).Select(i => (Sample)new TextSample(i, null, $"t{i}")).ToList();
        var (train, eval) = EvalSplit.Split(samples, 0.05, seed: 42);
        Assert.Equal(5, eval.Count);
        Assert.Equal(95, train.Count);
        Assert.Equal(Enumerable.Range(0, 100), train.Concat(eval).Select(s => s.Index).Order());
        Assert.Equal(eval.Select(s => s.Index).Order(), eval.Select(s => s.Index));
        var (_, again) = EvalSplit.Split(samples, 0.05, seed: 42);
        Assert.Equal(eval, again);
        var (_, other) = EvalSplit.Split(samples, 0.05, seed: 43);
        Assert.NotEqual(eval, other);
        Assert.Single(EvalSplit.Split(samples.Take(3).ToList(), 0.01, 1).Eval);
        Assert.Throws<EngineException>(() => EvalSplit.Split(samples, 1.0, 1));
    }
}
