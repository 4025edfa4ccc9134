using Engine.Data;
using Engine.Distributed;
using Engine.Tests.Support;

namespace Engine.Tests.Distributed;

/// <summary>A rank's share of a global micro-batch is exactly the batch its rows would collate to alone, and the
/// launcher's status lines read back as written.</summary>
public class RankShareTests
{
    private const int I = EncodedSample.IgnoreIndex;

    private static TrainingSequence[] Rows() =>
    [
        new(new[] { 1, 5, 6 }, new[] { 5, 6, I }),
        new(new[] { 1, 7, 8, 9, 10, 11 }, new[] { I, 8, 9, 10, 11, I }),
        new(new[] { 1, 10, 1, 20, 21 }, new[] { 10, I, 20, 21, I }, new[] { 0, 0, 2, 2, 2 }),
        new(new[] { 1, 4 }, new[] { 4, I }),
        new(new[] { 1, 3, 3, 3 }, new[] { 3, 3, 3, I }),
    ];

    [Theory]
    [InlineData(0, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 2)] // the last global batch of an epoch: fewer rows than the share
    [InlineData(5, 2)] // none left
    [InlineData(0, 5)]
    public void Rows_equal_collating_those_rows_alone(int start, int count)
    {
        var rows = Rows();
        var position = new LoaderPosition(1, 3);
        var global = Batch.Collate(rows, padId: 0, position);
        var share = global.Rows(start, count);
        var alone = rows.Skip(start).Take(count).ToArray();
        Assert.Equal(alone.Length, share.BatchSize);
        if (alone.Length == 0)
        {
            Assert.Equal(0, share.LearnedTokens);
            return;
        }
        var expected = Batch.Collate(alone, padId: 0, position);
        Assert.Equal(expected.SeqLen, share.SeqLen);
        Assert.Equal(expected.InputIds, share.InputIds);
        Assert.Equal(expected.Targets, share.Targets);
        Assert.Equal(expected.Lengths, share.Lengths);
        Assert.Equal(expected.LearnedTokens, share.LearnedTokens);
        // The global batch holds a packed row, so every share keeps segment starts; rows of one sample start at 0 and
        // their padding is a segment of its own, which is what collating them alone means when it needs no starts.
        var starts = expected.SegmentStarts ?? Enumerable.Range(0, alone.Length)
            .SelectMany(r => Enumerable.Range(0, expected.SeqLen).Select(j => j < alone[r].Length ? 0 : alone[r].Length)).ToArray();
        Assert.Equal(starts, share.SegmentStarts);
        Assert.Equal(position, share.Position);
    }

    [Fact]
    public void The_shares_of_all_ranks_hold_every_learned_token_once()
    {
        var global = Batch.Collate(Rows(), padId: 0, new LoaderPosition(0, 0));
        int learned = Enumerable.Range(0, 3).Sum(r => global.Rows(r * 2, 2).LearnedTokens);
        Assert.Equal(global.LearnedTokens, learned);
    }

    [Fact]
    public void Status_lines_read_back_with_their_rank_pid_step_and_state()
    {
        using var tmp = new TempDir();
        var env = new DistributedEnvironment(3, 4, 1, DistributedLauncher.Mpirun);
        var old = Environment.GetEnvironmentVariable(DistributedEnvironment.StatusDirVariable);
        Environment.SetEnvironmentVariable(DistributedEnvironment.StatusDirVariable, tmp.Path);
        try
        {
            var status = RankStatus.For(env)!;
            status.Report(7);
            Assert.Equal([new RankStatus.Entry(3, Environment.ProcessId, 7, "running")], RankStatus.Read(tmp.Path));
            status.Stopping();
            status.Report(8);
            Assert.Equal("stopping", RankStatus.Read(tmp.Path)[0].State);
            status.End("failed: disk full\non two lines");
            Assert.Equal(new RankStatus.Entry(3, Environment.ProcessId, 8, "failed: disk full on two lines"), RankStatus.Read(tmp.Path)[0]);
            File.WriteAllText(Path.Combine(tmp.Path, "rank-9.status"), "garbage");
            Assert.Single(RankStatus.Read(tmp.Path));
        }
        finally { Environment.SetEnvironmentVariable(DistributedEnvironment.StatusDirVariable, old); }
    }
}
