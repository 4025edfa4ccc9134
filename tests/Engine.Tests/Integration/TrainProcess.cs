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
    /// <paramref name="step"/> (fails the test if that does not come within two minutes). With
    /// <paramref name="signal"/>, that signal is sent the moment the line arrives, from the reader itself (kill(2), no
    /// helper process), so a loaded machine cannot let the short demo run finish before it lands.</summary>
    public static TrainProcess StartAtStep(IEnumerable<string> args, int step, string? signal = null)
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
            if (!e.Data.StartsWith(marker, StringComparison.Ordinal) || saw.IsSet) return;
            if (signal is not null) t.Send(signal);
            saw.Set();
        };
        t.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (t._output) t._output.AppendLine(e.Data); };
        t.Process.BeginOutputReadLine();
        t.Process.BeginErrorReadLine();
        Assert.True(saw.Wait(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken), $"training did not start: {t.Output}");
        return t;
    }

    /// <summary>Waits (at most a minute) for the process to exit after the signal sent by <see cref="StartAtStep"/>.</summary>
    public int ExitCodeAfter(string name)
    {
        Assert.True(Process.WaitForExit(60_000), $"the process did not exit after SIG{name}");
        Process.WaitForExit();
        return Process.ExitCode;
    }

    private void Send(string name)
    {
        int number = name switch { "HUP" => 1, "INT" => 2, "TERM" => 15, _ => throw new ArgumentException($"no signal number for {name}") };
        if (Kill(Process.Id, number) != 0) throw new InvalidOperationException($"kill(SIG{name}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.Dispose();
    }
}
