using System.Diagnostics;
using System.Text;

namespace Engine.Tests.Distributed;

/// <summary>The CLI (dotnet Engine.Cli.dll) as a child process run to its end, output collected: what a launched
/// data-parallel job needs, since its ranks are processes of their own.</summary>
internal static class ChildProcess
{
    public static (int Exit, string Out, string Err, TimeSpan Took) Cli(IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Engine.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"engine {string.Join(' ', args)} did not end within {timeout.TotalSeconds:F0} s:\n{stdout}\n{stderr}");
        }
        p.WaitForExit();
        lock (stdout) lock (stderr) return (p.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }

    /// <summary>Processes whose environment says a launcher with pid <paramref name="launcher"/> started them, with
    /// their rank (from mpirun's or torchrun's variable).</summary>
    public static List<(int Pid, int Rank)> RanksOf(int launcher)
    {
        var found = new List<(int, int)>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string env;
            try { env = File.ReadAllText(Path.Combine(dir, "environ")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            var vars = env.Split('\0');
            if (!vars.Contains($"ENGINE_DIST_LAUNCHER_PID={launcher}")) continue;
            var rank = vars.FirstOrDefault(v => v.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal) || v.StartsWith("RANK=", StringComparison.Ordinal));
            if (rank is null) continue; // mpirun itself
            found.Add((pid, int.Parse(rank[(rank.IndexOf('=') + 1)..])));
        }
        return found;
    }
}
