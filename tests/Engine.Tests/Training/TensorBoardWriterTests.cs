using Engine.Formats;
using Engine.Tests.Support;
using Engine.Training.Metrics;

namespace Engine.Tests.Training;

public class TensorBoardWriterTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static float Loss(int step) => 3f / (1 + 0.05f * step) + 0.001f * (step % 7);

    [Fact]
    public void Scalars_RoundTripExactly()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(Start);
        string path;
        var expected = new List<TensorBoardScalar>();
        using (var writer = new TensorBoardWriter(Path.Combine(dir.Path, "runs"), clock))
        {
            path = writer.FilePath;
            for (int step = 1; step <= 40; step++)
            {
                clock.Advance(TimeSpan.FromMilliseconds(250));
                double wall = (clock.Now - DateTimeOffset.UnixEpoch).TotalSeconds;
                var scalars = new List<(string, float)>
                {
                    ("loss", Loss(step)), ("lr", 2e-4f * step / 40), ("grad_norm", 1.0f / step), ("tokens_per_s", 12340.5f + step),
                };
                if (step % 10 == 0) scalars.Add(("eval_loss", Loss(step) + 0.1f));
                foreach (var (tag, value) in scalars)
                {
                    writer.AddScalar(tag, value, step);
                    expected.Add(new TensorBoardScalar(wall, step, tag, value));
                }
                writer.Flush();
            }
        }

        Assert.Equal(Path.Combine(dir.Path, "runs", $"events.out.tfevents.1700000000.{Environment.MachineName}"), path);
        var events = TensorBoardReader.ReadEvents(path);
        Assert.Equal(TensorBoardEvent.CurrentFileVersion, events[0].FileVersion);
        Assert.Equal(1_700_000_000.0, events[0].WallTime);
        Assert.Empty(events[0].Scalars);
        Assert.Equal(expected, TensorBoardReader.ReadScalars(path));
        Assert.Equal(4, TensorBoardReader.ReadScalars(path).Count(s => s.Tag == "eval_loss"));
    }

    [Fact]
    public void FinishedStep_IsOnDiskWhileWriterIsOpen()
    {
        using var dir = new TempDir();
        using var writer = new TensorBoardWriter(dir.Path, new ManualClock(Start));
        writer.AddScalar("loss", 2.5f, 1);
        writer.AddScalar("lr", 1e-4f, 1);
        writer.AddScalar("loss", 2.4f, 2); // a new step pushes step 1 out to the OS
        var onDisk = TensorBoardReader.ReadScalars(writer.FilePath);
        Assert.Equal([("loss", 2.5f, 1L), ("lr", 1e-4f, 1L)], onDisk.Select(s => (s.Tag, s.Value, s.Step)));
    }

    [Fact]
    public void Log_WritesEveryFieldAndFlushes()
    {
        using var dir = new TempDir();
        using var writer = new TensorBoardWriter(dir.Path, new ManualClock(Start));
        writer.Log(new StepMetrics
        {
            Step = 7, Epoch = 0.5, Loss = 2.25, LearningRate = 3e-4, GradNorm = 0.75, TokensPerSecond = 1000,
            EvalLoss = 2.5, Extra = new Dictionary<string, double> { ["mem_gb"] = 12.5 },
        });
        var got = TensorBoardReader.ReadScalars(writer.FilePath).ToDictionary(s => s.Tag, s => (s.Step, s.Value));
        Assert.Equal(new Dictionary<string, (long, float)>
        {
            ["loss"] = (7, 2.25f), ["lr"] = (7, 3e-4f), ["grad_norm"] = (7, 0.75f), ["tokens_per_s"] = (7, 1000f),
            ["epoch"] = (7, 0.5f), ["eval_loss"] = (7, 2.5f), ["mem_gb"] = (7, 12.5f),
        }, got);
    }

    [Fact]
    public void TwoWritersInOneSecond_GetSeparateFiles_AndFolderReadsBoth()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(Start);
        using (var a = new TensorBoardWriter(dir.Path, clock))
        using (var b = new TensorBoardWriter(dir.Path, clock))
        {
            Assert.NotEqual(a.FilePath, b.FilePath);
            a.AddScalar("loss", 1f, 1);
            b.AddScalar("loss", 2f, 2);
        }
        Assert.Equal([1f, 2f], TensorBoardReader.ReadFolder(dir.Path).Select(s => s.Value));
    }
}
