using System.Globalization;

namespace Engine.Distributed;

/// <summary>Stops a rank whose launcher has gone (killed with SIGKILL, say): the rank cancels as if it had been sent
/// SIGTERM (the ranks agree to stop, rank 0 checkpoints, all exit) instead of running on as an orphan. The launcher's
/// pid comes from <see cref="DistributedEnvironment.LauncherPidVariable"/>; without it nothing is watched.</summary>
internal sealed class LauncherWatch : IDisposable
{
    private readonly Timer _timer;

    private LauncherWatch(int pid, CancellationTokenSource stop)
    {
        _timer = new Timer(_ =>
        {
            if (Directory.Exists($"/proc/{pid}")) return;
            try { stop.Cancel(); }
            catch (ObjectDisposedException) { } // the run ended in the meantime
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public static LauncherWatch? Start(CancellationTokenSource stop)
    {
        var s = Environment.GetEnvironmentVariable(DistributedEnvironment.LauncherPidVariable);
        if (string.IsNullOrEmpty(s)) return null;
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 0)
            throw new EngineException($"environment variable {DistributedEnvironment.LauncherPidVariable}: expected a process id, got \"{s}\"");
        return OperatingSystem.IsLinux() ? new LauncherWatch(pid, stop) : null;
    }

    public void Dispose() => _timer.Dispose();
}
