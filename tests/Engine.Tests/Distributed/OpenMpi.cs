using System.Diagnostics;
using Engine.Distributed.Mpi;

namespace Engine.Tests.Distributed;

/// <summary>Open MPI for the tests that start ranks: scripts/install-mpi.sh runs once per test run and installs it
/// when missing (CI: Debian, root), so these tests never skip silently. ENGINE_SKIP_MPI=1 skips them explicitly; an
/// installation that is impossible fails them with the script's reason.</summary>
internal static class OpenMpi
{
    private static readonly Lazy<string?> Installed = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Skips the test under ENGINE_SKIP_MPI=1, fails it when Open MPI is missing and cannot be installed.</summary>
    public static void Require()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_SKIP_MPI") == "1")
            Assert.Skip("ENGINE_SKIP_MPI=1: the Open MPI (CPU ranks) tests do not run");
        if (Installed.Value is { } error) Assert.Fail(error);
    }

    /// <summary>Runs <c>mpirun -np <paramref name="ranks"/> dotnet Engine.Cli.dll <paramref name="args"/></c> (the CLI
    /// beside the tests) through <see cref="MpiRun.Command"/>, killing the whole tree past <paramref name="limit"/>.</summary>
    public static Job Run(int ranks, IEnumerable<string> args, IReadOnlyDictionary<string, string> rankEnvironment, TimeSpan limit)
    {
        Require();
        var psi = MpiRun.Command(ranks, "dotnet", [Path.Combine(AppContext.BaseDirectory, "Engine.Cli.dll"), .. args], rankEnvironment);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true; // mpirun forwards its stdin to rank 0; the tests give it none
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool exited = p.WaitForExit(limit);
        if (!exited) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        return new Job(exited ? p.ExitCode : -1, stdout.Result + stderr.Result + (exited ? "" : $"\n(killed after {limit.TotalSeconds:F0} s)"), sw.Elapsed);
    }

    /// <summary>Ids of the live processes whose environment holds <paramref name="name"/>=<paramref name="value"/>
    /// (Linux /proc): the ranks of one job, found by a variable set for it alone.</summary>
    public static List<int> ProcessesWith(string name, string value)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes($"{name}={value}\0");
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId) continue;
            byte[] environ;
            try { environ = File.ReadAllBytes(Path.Combine(dir, "environ")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (environ.AsSpan().IndexOf(needle) >= 0) found.Add(pid);
        }
        return found;
    }

    private static string? Install()
    {
        var script = RepoFile("scripts/install-mpi.sh");
        if (script is null) return $"no scripts/install-mpi.sh above {AppContext.BaseDirectory}";
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            p.Kill(entireProcessTree: true);
            return "scripts/install-mpi.sh did not finish within 10 minutes";
        }
        p.WaitForExit();
        return p.ExitCode == 0 ? null
            : $"Open MPI is missing and could not be installed (set ENGINE_SKIP_MPI=1 to skip): {stdout.Result}{stderr.Result}".Trim();
    }

    private static string? RepoFile(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, relative))) return Path.Combine(d.FullName, relative);
        return null;
    }

    /// <summary>mpirun's exit code (-1 when it was killed), the ranks' output and its own, and how long it ran.</summary>
    public sealed record Job(int Exit, string Output, TimeSpan Elapsed);
}
