using System.Diagnostics;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Integration;

/// <summary>Issue 11, class 5: SIGTERM (docker stop, SLURM, Kubernetes) and SIGHUP do what Ctrl-C does: finish the
/// step, save a checkpoint (even with the default --save-steps 0) and exit with 128 + the signal; --resume latest then
/// ends with exactly the adapter an uninterrupted run writes. Runs the real CLI as a child process.</summary>
public class SignalTests
{
    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("HUP", 129)]
    public void A_signal_saves_a_checkpoint_and_resume_is_bit_exact(string signal, int expectedExit)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("sends signals with kill(1)");
        using var tmp = new TempDir();
        var run = tmp.File("run");
        string[] train = ["train", "--mode", "lora", "--device", "cpu", "--logging-steps", "1", "--max-steps", "24"];
        var cli = Path.Combine(AppContext.BaseDirectory, "Engine.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[cli, .. train, "--out", run]) psi.ArgumentList.Add(a);
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
        Process.Start("kill", $"-{signal} {p.Id}")!.WaitForExit();
        Assert.True(p.WaitForExit(60_000), $"the process did not exit after SIG{signal}");
        p.WaitForExit();
        Assert.True(expectedExit == p.ExitCode, $"exit {p.ExitCode}: {output}");
        var checkpoint = Assert.Single(CheckpointStore.List(run));
        Assert.True(checkpoint.Step is >= 3 and < 24, $"checkpoint at step {checkpoint.Step}");
        Assert.Contains("interrupted at step", output.ToString());
        Assert.False(File.Exists(Path.Combine(run, "adapter_model.safetensors")), "an interrupted run must not write final outputs");

        var (exit, _, err) = CliHarness.Run([.. train, "--out", run, "--resume", "latest"]);
        Assert.True(exit == 0, err);
        (exit, _, err) = CliHarness.Run([.. train, "--out", tmp.File("reference")]);
        Assert.True(exit == 0, err);
        Assert.Equal(File.ReadAllBytes(tmp.File("reference/adapter_model.safetensors")), File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors")));
    }
}
