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
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("sends signals with kill(2)");
        using var tmp = new TempDir();
        var run = tmp.File("run");
        string[] train = ["train", "--mode", "lora", "--device", "cpu", "--logging-steps", "1", "--max-steps", "24"];
        using var p = TrainProcess.StartAtStep([.. train, "--out", run], 3, signal);
        int code = p.ExitCodeAfter(signal);
        Assert.True(expectedExit == code, $"exit {code}: {p.Output}");
        var checkpoint = Assert.Single(CheckpointStore.List(run));
        Assert.True(checkpoint.Step is >= 3 and < 24, $"checkpoint at step {checkpoint.Step}");
        Assert.Contains("interrupted at step", p.Output);
        Assert.False(File.Exists(Path.Combine(run, "adapter_model.safetensors")), "an interrupted run must not write final outputs");

        var (exit, _, err) = CliHarness.Run([.. train, "--out", run, "--resume", "latest"]);
        Assert.True(exit == 0, err);
        (exit, _, err) = CliHarness.Run([.. train, "--out", tmp.File("reference")]);
        Assert.True(exit == 0, err);
        Assert.Equal(File.ReadAllBytes(tmp.File("reference/adapter_model.safetensors")), File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors")));
    }
}
