using System.Diagnostics;
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
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("sends SIGINT with kill(1)");
        using var tmp = new TempDir();
        var cli = Path.Combine(AppContext.BaseDirectory, "Engine.Cli.dll");
        var args = $"\"{cli}\" train --mode lora --out \"{tmp.Path}\" --device cpu --logging-steps 1 --num-epochs 4";
        var psi = new ProcessStartInfo("dotnet", args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        var sawSteps = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("step 3/", StringComparison.Ordinal)) sawSteps.Set();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        Assert.True(sawSteps.Wait(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken), $"training did not start: {output}");
        Process.Start("kill", $"-INT {p.Id}")!.WaitForExit();
        Assert.True(p.WaitForExit(60_000), "the process did not exit after SIGINT");
        p.WaitForExit();
        Assert.Equal(130, p.ExitCode);
        var checkpoints = CheckpointStore.List(tmp.Path);
        Assert.Single(checkpoints);
        Assert.Contains("interrupted at step", output.ToString());
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
