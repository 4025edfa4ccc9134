using Engine.Training.Metrics;

namespace Engine.Tests.Training;

public class ProgressBarTests
{
    private static StepMetrics At(long step, double loss = 2.0) =>
        new() { Step = step, Loss = loss, LearningRate = 1e-4, TokensPerSecond = 1000 };

    [Fact]
    public void Terminal_RedrawsOneLine_PadsOverLongerText_AndEndsWithNewline()
    {
        var output = new StringWriter();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        using (var bar = new ProgressBar(output, isTerminal: true, () => 200, totalSteps: 10, startStep: 0, plainEvery: 5, clock))
        {
            clock.Advance(TimeSpan.FromSeconds(3));
            bar.Update(At(1, loss: double.NegativeInfinity)); // "-inf" is one column longer than "nan"
            clock.Advance(TimeSpan.FromSeconds(3));
            bar.Update(At(2, loss: double.NaN));
        }
        string line1 = "step 1/10 [==>                 ] 10% loss -inf lr 1.0e-4 1,000 tok/s ETA 27s";
        string line2 = "step 2/10 [====>               ] 20% loss nan lr 1.0e-4 1,000 tok/s ETA 24s";
        Assert.Equal($"\r{line1}\r{line2} {Environment.NewLine}", output.ToString());
    }

    [Fact]
    public void Terminal_WidthThatThrows_OrIsUnknown_DoesNotThrow()
    {
        var output = new StringWriter();
        using (var bar = new ProgressBar(output, true, () => throw new IOException("no tty"), 10, 0, 1, null))
            bar.Update(At(1));
        using (var bar = new ProgressBar(output, true, () => null, 10, 0, 1, null))
            bar.Update(At(1));
        Assert.StartsWith("\rstep 1/10 [==>", output.ToString());
    }

    [Fact]
    public void Terminal_NarrowWidth_KeepsLineShorterThanTerminal()
    {
        var output = new StringWriter();
        using (var bar = new ProgressBar(output, true, () => 40, 10, 0, 1, null)) bar.Update(At(3));
        string text = output.ToString();
        Assert.Equal(1 + 39 + Environment.NewLine.Length, text.Length);
    }

    [Fact]
    public void Redirected_WritesPlainLinesEveryNStepsFirstAndLast()
    {
        var output = new StringWriter();
        using (var bar = new ProgressBar(output, isTerminal: false, () => throw new InvalidOperationException(), 12, 0, 5, null))
            for (int s = 1; s <= 12; s++) bar.Update(At(s));
        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["step 1/12", "step 5/12", "step 10/12", "step 12/12"], lines.Select(l => string.Join(' ', l.Split(' ')[..2])));
        Assert.DoesNotContain('\r', output.ToString());
    }

    [Fact]
    public void Eta_CountsOnlyStepsRunSinceResume()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var bar = new ProgressBar(TextWriter.Null, false, () => null, totalSteps: 200, startStep: 100, plainEvery: 10, clock);
        clock.Advance(TimeSpan.FromSeconds(20));
        bar.Update(At(110));
        // 10 steps in 20 s -> 2 s/step, 90 steps left.
        Assert.EndsWith("ETA 3m00s", bar.LastLine);
    }

    [Fact]
    public void WriteLine_EndsTheBarFirst()
    {
        var output = new StringWriter();
        using (var bar = new ProgressBar(output, true, () => 200, 10, 0, 1, null))
        {
            bar.Update(At(1));
            bar.WriteLine("eval loss 1.9");
        }
        var text = output.ToString();
        Assert.EndsWith($"{Environment.NewLine}eval loss 1.9{Environment.NewLine}", text);
        Assert.Equal(2, text.Split(Environment.NewLine).Length - 1); // no extra newline from Dispose
    }
}
