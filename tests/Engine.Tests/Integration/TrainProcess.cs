using System.Diagnostics;

namespace Engine.Tests.Integration;

/// <summary>`engine train` as a child process (dotnet Engine.Cli.dll), its stdout and stderr collected, for tests that
/// send it signals.</summary>
internal sealed class TrainProcess : IDisposable
{
    private readonly System.Text.StringBuilder _output = new();

    private TrainProcess(Process p) => Process = p;

    public Process Process { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Starts the CLI with <paramref name="args"/> and returns once it has printed the progress line of
    /// <paramref name="step"/> (fails the test if that does not come within two minutes).</summary>
    public static TrainProcess StartAtStep(IEnumerable<string> args, int step)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Engine.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var t = new TrainProcess(Process.Start(psi)!);
        var saw = new ManualResetEventSlim();
        var marker = $"step {step}/";
        t.Process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (t._output) t._output.AppendLine(e.Data);
            if (e.Data.StartsWith(marker, StringComparison.Ordinal)) saw.Set();
        };
        t.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (t._output) t._output.AppendLine(e.Data); };
        t.Process.BeginOutputReadLine();
        t.Process.BeginErrorReadLine();
        Assert.True(saw.Wait(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken), $"training did not start: {t.Output}");
        return t;
    }

    /// <summary>Sends a signal with kill(1) and waits (at most a minute) for the process to exit; returns its exit code.</summary>
    public int Signal(string name)
    {
        Process.Start("kill", $"-{name} {Process.Id}")!.WaitForExit();
        Assert.True(Process.WaitForExit(60_000), $"the process did not exit after SIG{name}");
        Process.WaitForExit();
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.Dispose();
    }
}
