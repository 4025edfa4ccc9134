using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Integration;

/// <summary>Ctrl-C (SIGINT) during `engine train` finishes the current step, saves a checkpoint and exits with 130;
/// `--resume latest` then continues to the end. Runs the real CLI as a child process.</summary>
public class InterruptTests
{
    [Fact]
    public void Sigint_saves_a_checkpoint_and_resume_finishes_the_run()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("sends SIGINT with kill(2)");
        using var tmp = new TempDir();
        using var p = TrainProcess.StartAtStep(["train", "--mode", "lora", "--out", tmp.Path, "--device", "cpu", "--logging-steps", "1", "--num-epochs", "4"], 3, "INT");
        Assert.Equal(130, p.ExitCodeAfter("INT"));
        var checkpoints = CheckpointStore.List(tmp.Path);
        Assert.Single(checkpoints);
        Assert.Contains("interrupted at step", p.Output);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "adapter_model.safetensors")), "an interrupted run must not write final outputs");

        // Resuming with another run length is refused, naming the step counts.
        var (badExit, _, badErr) = CliHarness.Run("train", "--mode", "lora", "--out", tmp.Path, "--device", "cpu", "--logging-steps", "1",
                                                  "--num-epochs", "5", "--resume", "latest");
        Assert.NotEqual(0, badExit);
        Assert.Contains("steps", badErr);

        // Resuming with the same settings finishes the run: the adapter is written, and metrics.jsonl holds every step
        // exactly once (lines written after the checkpoint by the interrupted run are dropped).
        var (exit, _, err) = CliHarness.Run("train", "--mode", "lora", "--out", tmp.Path, "--device", "cpu", "--logging-steps", "1",
                                            "--num-epochs", "4", "--resume", "latest");
        Assert.True(exit == 0, err);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "adapter_model.safetensors")));
        var steps = Engine.Training.Metrics.MetricsJsonlReader.Read(Path.Combine(tmp.Path, "metrics.jsonl")).Select(m => m.Step).ToList();
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), steps);
    }
}
