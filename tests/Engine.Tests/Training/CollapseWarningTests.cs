using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>A run whose model collapsed (gradient exactly 0, loss at ln V) says so instead of quietly reporting done.</summary>
public class CollapseWarningTests
{
    private static string Train(float lr, int steps)
    {
        using var tmp = new TempDir();
        var (model, data) = TrainerFixture.Create(tmp.Path, TrainMode.Full);
        using var _ = model;
        var log = new StringWriter();
        var o = new TrainOptions { Mode = TrainMode.Full, OutputDir = tmp.Path, MaxSteps = steps, BatchSize = 4, LoggingSteps = 1, LearningRate = lr, WarmupRatio = 0 };
        var t = new Trainer(model, model.Parameters.Trainable.Select(p => (p.Name, Param: p.Tensor)).ToList(), data, o, log) { PlainProgress = true };
        t.Run(CancellationToken.None);
        return log.ToString();
    }

    [Fact]
    public void A_learning_rate_of_1e6_collapses_the_model_and_the_log_says_so()
    {
        var log = Train(1e6f, 8);
        var lines = log.Split('\n').Where(l => l.StartsWith("warning: ")).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains(lines, l => l.Contains("the gradient norm has been exactly 0 for 3 steps in a row") && l.Contains("--learning-rate"));
        Assert.Contains(lines, l => l.Contains("the loss has stayed at ln(vocab)") && l.Contains("uniform distribution") && l.Contains("--learning-rate"));
    }

    [Fact]
    public void A_sane_run_gives_no_warning()
    {
        Assert.DoesNotContain("warning:", Train(2e-3f, 8));
    }

    [Fact]
    public void The_watch_counts_steps_in_a_row_and_warns_once()
    {
        var w = new CollapseWatch(1000);
        Assert.Null(w.Step(1, 0, 1f));
        Assert.Null(w.Step(2, 0, 1f));
        Assert.Null(w.Step(3, 1e-3, 1f)); // the run of zeros is broken
        Assert.Null(w.Step(4, 0, 1f));
        Assert.Null(w.Step(5, 0, 1f));
        Assert.NotNull(w.Step(6, 0, 1f));
        Assert.Null(w.Step(7, 0, 1f));
        double lnV = Math.Log(1000);
        Assert.Null(w.Logged(10, lnV * 1.009, 1f));
        Assert.Null(w.Logged(20, lnV * 0.991, 1f));
        Assert.Null(w.Logged(30, lnV * 0.98, 1f)); // outside 1%
        Assert.Null(w.Logged(40, lnV, 1f));
        Assert.Null(w.Logged(50, lnV, 1f));
        Assert.NotNull(w.Logged(60, lnV, 1f));
    }
}
