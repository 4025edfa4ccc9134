using System.Globalization;
using Engine.Tests.Support;

namespace Engine.Tests.Distributed;

/// <summary>Gradient buckets all-reduced during the backward pass (the default over Open MPI) against the blocking
/// all-reduce after it (<c>--grad-overlap false</c>): two ranks with gradient accumulation (only the last micro-batch's
/// backward reduces) take bit-identical steps and save identical weights, for LoRA, and for full fine-tuning with
/// ZeRO-1's sharded moments on the overlapped side.</summary>
public class GradientOverlapTrainingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    private static string[] Train(string mode, string dir, params string[] extra) =>
        ["train", "--mode", mode, "--device", "cpu", "--out", dir, "--max-steps", "6", "--batch-size", "1", "--grad-accum", "2",
         "--logging-steps", "1", "--lora-dropout", "0", "--nproc-per-node", "2", .. extra];

    private static string Run(string[] args)
    {
        var r = ChildProcess.Cli(args, Limit);
        Assert.True(r.Exit == 0, $"engine {string.Join(' ', args)} exited {r.Exit}:\n{r.Out}{r.Err}");
        return r.Out;
    }

    [Theory]
    [InlineData("lora", false)]
    [InlineData("full", true)]
    public void Overlapped_and_blocking_gradient_sums_take_bit_identical_steps(string mode, bool zero)
    {
        OpenMpi.Require();
        using var tmp = new TempDir();
        var blocking = Run(Train(mode, tmp.File("blocking"), "--grad-overlap", "false"));
        Assert.Contains("gradients all-reduced after the backward pass (--grad-overlap false)", blocking);
        var overlapped = Run(Train(mode, tmp.File("overlapped"), zero ? ["--zero", "1"] : []));
        Assert.Contains("gradients all-reduced in buckets during the backward pass", overlapped);

        var a = ZeroOneTrainingTests.Steps(tmp.File("blocking"));
        Assert.Equal(Enumerable.Range(1, 6).Select(s => (long)s), a.Select(s => s.Item1));
        Assert.True(a[^1].Item3 < a[0].Item3, $"the run learned nothing: {a[0].Item3.ToString(CultureInfo.InvariantCulture)} → {a[^1].Item3.ToString(CultureInfo.InvariantCulture)}");
        Assert.Equal(a, ZeroOneTrainingTests.Steps(tmp.File("overlapped")));
        ZeroOneTrainingTests.SameFiles(ZeroOneTrainingTests.Weights(tmp.File("blocking")), ZeroOneTrainingTests.Weights(tmp.File("overlapped")));
    }
}
