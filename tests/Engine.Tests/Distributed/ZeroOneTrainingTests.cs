using System.Globalization;
using System.Text.RegularExpressions;
using Engine.Api;
using Engine.Tests.Support;
using Engine.Training.Metrics;

namespace Engine.Tests.Distributed;

/// <summary>ZeRO-1 (<c>--zero 1</c>) on the CPU with Open MPI: two ranks with AdamW's moments sharded take exactly the
/// steps of the same two ranks without sharding (the update is elementwise, so which rank computes it changes no bit):
/// every logged loss, gradient norm and learning rate, the saved adapter or model bytes, and the checkpoint files
/// themselves are identical, for LoRA and full fine-tuning; a checkpoint written with sharding resumes without it, and
/// the reverse, retracing the uninterrupted run exactly.</summary>
public class ZeroOneTrainingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private static string[] Train(string mode, string dir, int steps, params string[] extra) =>
        ["train", "--mode", mode, "--device", "cpu", "--out", dir, "--max-steps", steps.ToString(CultureInfo.InvariantCulture), "--batch-size", "1",
         "--logging-steps", "1", "--lora-dropout", "0", "--nproc-per-node", "2", .. extra];

    private static (int Exit, string Out, string Err, TimeSpan Took) Run(string[] args)
    {
        var r = ChildProcess.Cli(args, Limit);
        Assert.True(r.Exit == 0, $"engine {string.Join(' ', args)} exited {r.Exit}:\n{r.Out}{r.Err}");
        return r;
    }

    /// <summary>What must match bit for bit in metrics.jsonl (tokens/s is a timing).</summary>
    internal static List<(long, double, double, double, double)> Steps(string dir) =>
        MetricsJsonlReader.Read(Path.Combine(dir, "metrics.jsonl")).Select(m => (m.Step, m.Epoch, m.Loss, m.GradNorm, m.LearningRate)).ToList();

    /// <summary>Every .safetensors file directly in <paramref name="dir"/> (the adapter, or the model's shards).</summary>
    internal static Dictionary<string, byte[]> Weights(string dir) =>
        Directory.GetFiles(dir, "*.safetensors").ToDictionary(f => Path.GetFileName(f)!, File.ReadAllBytes);

    internal static void SameFiles(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, bytes) in expected) Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"{name} differs");
    }

    /// <summary>Rank 0's report of its own optimizer: it holds the moments of some but not all tensors.</summary>
    private static void HoldsAShare(string output)
    {
        var m = Regex.Match(output, @"ZeRO-1: rank 0 holds AdamW moments for (\d+) of (\d+) trainable tensors");
        Assert.True(m.Success, output);
        int mine = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), all = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(mine, 1, all - 1);
        Assert.Matches(@"data parallel: 2 ranks over mpi, .*AdamW moments sharded across the ranks \(ZeRO-1\): rank 0 holds [\d.]+ [MG]iB, rank 1 holds [\d.]+ [MG]iB of [\d.]+ [MG]iB", output);
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("full")]
    public void Sharded_moments_take_bit_identical_steps_and_save_identical_weights(string mode)
    {
        OpenMpi.Require();
        using var tmp = new TempDir();
        var plain = Run(Train(mode, tmp.File("plain"), 12));
        Assert.Contains("AdamW moments whole on every rank", plain.Out);
        var zero = Run(Train(mode, tmp.File("zero"), 12, "--zero", "1"));
        HoldsAShare(zero.Out);

        var a = Steps(tmp.File("plain"));
        Assert.Equal(Enumerable.Range(1, 12).Select(s => (long)s), a.Select(s => s.Item1));
        Assert.True(a[^1].Item3 < a[0].Item3 - 0.05, $"the run learned nothing: {a[0].Item3} → {a[^1].Item3}");
        Assert.Equal(a, Steps(tmp.File("zero")));
        SameFiles(Weights(tmp.File("plain")), Weights(tmp.File("zero")));
    }

    [Fact]
    public void With_one_process_zero_1_says_there_is_nothing_to_shard_and_changes_nothing()
    {
        using var tmp = new TempDir();
        var log = new StringWriter();
        var o = new FineTuneOptions { Device = "cpu", MaxSteps = 3, BatchSize = 1, LoggingSteps = 1, LoraDropout = 0 };
        var zero = FineTuning.Run(o with { OutputDir = tmp.File("zero"), ZeroStage = 1 }, log: log, cancel: TestContext.Current.CancellationToken);
        Assert.Contains("note: --zero 1 shards the optimizer states across data-parallel ranks; this run is one process, so there is nothing to shard", log.ToString());
        Assert.DoesNotContain("ZeRO-1: rank", log.ToString());
        var plain = FineTuning.Run(o with { OutputDir = tmp.File("plain") }, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(plain.FinalLoss, zero.FinalLoss);
        Assert.Equal(Steps(tmp.File("plain")), Steps(tmp.File("zero")));
    }

    [Fact]
    public void A_sharded_checkpoint_resumes_without_sharding_and_the_reverse_exactly()
    {
        OpenMpi.Require();
        using var tmp = new TempDir();
        string z = tmp.File("z"), p = tmp.File("p");
        HoldsAShare(Run(Train("lora", z, 12, "--save-steps", "6", "--zero", "1")).Out);
        Run(Train("lora", p, 12, "--save-steps", "6"));
        var whole = Steps(p);
        var adapter = Weights(p);
        Assert.Equal(whole, Steps(z));
        SameFiles(adapter, Weights(z));
        // Rank 0 gathered rank 1's moments: the checkpoint is the file a run without sharding writes, byte for byte.
        foreach (var step in new[] { "checkpoint-6", "checkpoint-12" })
            SameFiles(Weights(Path.Combine(p, step)), Weights(Path.Combine(z, step)));
        Assert.Equal(File.ReadAllText(Path.Combine(p, "checkpoint-6", "trainer_state.json")), File.ReadAllText(Path.Combine(z, "checkpoint-6", "trainer_state.json")));

        // Written with sharding, resumed without; written without, resumed with: both retrace steps 7..12 exactly.
        var plainResume = Run(Train("lora", z, 12, "--save-steps", "6", "--resume", Path.Combine(z, "checkpoint-6")));
        Assert.Contains("resumed from", plainResume.Out);
        Assert.DoesNotContain("ZeRO-1: rank 0", plainResume.Out);
        var zeroResume = Run(Train("lora", p, 12, "--save-steps", "6", "--resume", Path.Combine(p, "checkpoint-6"), "--zero", "1"));
        Assert.Contains("resumed from", zeroResume.Out);
        HoldsAShare(zeroResume.Out);
        foreach (var dir in new[] { z, p })
        {
            Assert.Equal(whole, Steps(dir));
            SameFiles(adapter, Weights(dir));
        }
    }
}
