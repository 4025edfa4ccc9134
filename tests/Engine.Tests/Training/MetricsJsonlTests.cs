using Engine.Tests.Support;
using Engine.Training.Metrics;

namespace Engine.Tests.Training;

public class MetricsJsonlTests
{
    private static StepMetrics Step(long step) => new()
    {
        Step = step, Epoch = step / 4.0, Loss = 3.0 - step * 0.125, LearningRate = 2e-4, GradNorm = 1.5, TokensPerSecond = 12340,
    };

    private static long[] Steps(string path) => MetricsJsonlReader.Read(path).Select(m => m.Step).ToArray();

    [Fact]
    public void Line_HasExactFieldsInOrder()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        using (var w = new MetricsJsonlWriter(path))
        {
            w.Append(Step(1));
            w.Append(Step(2) with { EvalLoss = 2.5, Extra = new Dictionary<string, double> { ["mem_gb"] = 7.25 } });
        }
        Assert.Equal(
            "{\"step\":1,\"epoch\":0.25,\"loss\":2.875,\"lr\":0.0002,\"grad_norm\":1.5,\"tokens_per_s\":12340}\n" +
            "{\"step\":2,\"epoch\":0.5,\"loss\":2.75,\"lr\":0.0002,\"grad_norm\":1.5,\"tokens_per_s\":12340,\"eval_loss\":2.5,\"mem_gb\":7.25}\n",
            File.ReadAllText(path));
    }

    [Fact]
    public void Records_RoundTrip_IncludingNonFinite()
    {
        using var dir = new TempDir();
        var path = dir.File("sub/metrics.jsonl");
        var written = new[]
        {
            Step(1) with { Loss = double.NaN },
            Step(2) with { GradNorm = double.PositiveInfinity, EvalLoss = 0.1 + 0.2 },
            Step(3) with { Extra = new Dictionary<string, double> { ["a"] = -1e-300, ["b"] = 123456789.125 } },
        };
        using (var w = new MetricsJsonlWriter(path))
            foreach (var m in written) w.Append(m);

        Assert.Contains("\"loss\":\"NaN\"", File.ReadAllText(path));
        var read = MetricsJsonlReader.Read(path);
        Assert.Equal(3, read.Count);
        Assert.True(double.IsNaN(read[0].Loss));
        Assert.Equal(double.PositiveInfinity, read[1].GradNorm);
        Assert.Equal(0.1 + 0.2, read[1].EvalLoss); // shortest round-trip formatting keeps every bit
        Assert.Null(read[0].EvalLoss);
        Assert.Equal(new Dictionary<string, double> { ["a"] = -1e-300, ["b"] = 123456789.125 }, read[2].Extra!);
        Assert.Equal(written[2] with { Extra = null }, read[2] with { Extra = null });
    }

    [Fact]
    public void TruncateAfterStep_OnResume_DropsLaterLinesAndAppendsAfter()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        using (var w = new MetricsJsonlWriter(path))
            for (int s = 1; s <= 10; s++) w.Append(Step(s));

        // Resume from a checkpoint taken at step 6: steps 7..10 will be redone.
        using (var w = new MetricsJsonlWriter(path))
        {
            w.TruncateAfterStep(6);
            Assert.Equal([1L, 2, 3, 4, 5, 6], Steps(path));
            for (int s = 7; s <= 8; s++) w.Append(Step(s) with { Loss = 9 });
        }
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8], Steps(path));
        Assert.Equal(9, MetricsJsonlReader.Read(path)[^1].Loss);
    }

    [Fact]
    public void TruncateAfterStep_KeepsOrder_WhenStepsAreNotMonotonic()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        using var w = new MetricsJsonlWriter(path);
        foreach (var s in new long[] { 1, 2, 5, 3, 9, 4 }) w.Append(Step(s));
        w.TruncateAfterStep(3);
        Assert.Equal([1L, 2, 3], Steps(path));
        w.TruncateAfterStep(0);
        Assert.Equal(0, new FileInfo(path).Length);
        w.Append(Step(1));
        Assert.Equal([1L], Steps(path));
    }

    [Fact]
    public void TornLastLine_IsDroppedOnOpen()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        File.WriteAllText(path, "{\"step\":1,\"loss\":2}\n{\"step\":2,\"lo");
        Assert.Equal([1L], Steps(path)); // the reader already ignores it
        using (var w = new MetricsJsonlWriter(path)) w.Append(Step(2));
        Assert.Equal([1L, 2], Steps(path));
        Assert.StartsWith("{\"step\":1,\"loss\":2}\n{\"step\":2,\"epoch\"", File.ReadAllText(path));
    }

    [Fact]
    public void MalformedLine_IsNamedByNumber()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.jsonl");
        File.WriteAllText(path, "{\"step\":1,\"loss\":2}\n\n{\"loss\":2}\n{\"step\":4}\n");
        var ex = Assert.Throws<FileFormatException>(() => MetricsJsonlReader.Read(path));
        Assert.Equal($"{path}: line 3: missing or non-integer \"step\"", ex.Message);

        File.WriteAllText(path, "{\"step\":1}\n[1,2\n{\"step\":3}\n");
        using var w = new MetricsJsonlWriter(path);
        var ex2 = Assert.Throws<FileFormatException>(() => w.TruncateAfterStep(1));
        Assert.Contains("line 2", ex2.Message);
    }

    [Fact]
    public void ExtraNamedLikeFixedField_IsRejected()
    {
        using var dir = new TempDir();
        using var w = new MetricsJsonlWriter(dir.File("m.jsonl"));
        Assert.Throws<ArgumentException>(() => w.Append(Step(1) with { Extra = new Dictionary<string, double> { ["loss"] = 1 } }));
    }
}
