using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Engine.Distributed.Mpi;

namespace Engine.Distributed;

/// <summary><c>engine train --nproc-per-node N</c>: starts N ranks of the same command on this machine and supervises
/// them, as torchrun does. CPU ranks run under Open MPI's mpirun (which forms their MPI world); GPU ranks are started
/// directly with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and meet over NCCL.
/// Each rank runs in a session of its own, so a terminal's Ctrl-C reaches the launcher only, which forwards it to
/// every rank once (they agree to stop after the same step, rank 0 checkpoints, all exit); a second signal kills
/// them. A rank that fails or dies ends the job: the launcher names it and its last step.</summary>
internal static partial class LocalLauncher
{
    /// <summary>How long ranks get to stop after the launcher ends the job because one of them failed.</summary>
    private static readonly TimeSpan GraceAfterFailure = TimeSpan.FromSeconds(10);

    /// <summary>Runs the job and returns the launcher's exit code: 0, 128 + the signal that stopped it, or 1 with a
    /// message on <paramref name="error"/> naming the rank that failed.</summary>
    public static int Run(int ranks, bool gpu, IReadOnlyList<string> trainArgs, TextWriter error)
    {
        if (ranks < 1) throw new EngineException($"--nproc-per-node: expected at least 1, got {ranks}");
        var (program, prefix) = Self();
        var args = prefix.Concat(trainArgs).ToList();
        var statusDir = Directory.CreateTempSubdirectory("engine-launch-").FullName;
        var env = new Dictionary<string, string>
        {
            [DistributedEnvironment.StatusDirVariable] = statusDir,
            [DistributedEnvironment.LauncherPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        if (Console.IsOutputRedirected)
        {
            env[DistributedEnvironment.PlainProgressVariable] = "1";
            env["TERM"] = "dumb"; // no terminal escape sequences from the runtime into a log
        }
        var children = new List<Process>();
        try
        {
            if (gpu)
            {
                int port = FreePort();
                for (int r = 0; r < ranks; r++)
                {
                    var psi = new ProcessStartInfo(program) { UseShellExecute = false };
                    foreach (var a in args) psi.ArgumentList.Add(a);
                    foreach (var (k, v) in env) psi.Environment[k] = v;
                    psi.Environment["RANK"] = psi.Environment["LOCAL_RANK"] = r.ToString(CultureInfo.InvariantCulture);
                    psi.Environment["WORLD_SIZE"] = ranks.ToString(CultureInfo.InvariantCulture);
                    psi.Environment["MASTER_ADDR"] = "127.0.0.1";
                    psi.Environment["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
                    children.Add(Start(psi));
                }
            }
            else children.Add(Start(MpiRun.Command(ranks, program, args, env)));
            return Supervise(children, statusDir, gpu, error);
        }
        finally
        {
            foreach (var c in children) c.Dispose();
            try { Directory.Delete(statusDir, recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>This program and the arguments that start it again: the executable itself, or `dotnet Engine.Cli.dll`.</summary>
    private static (string Program, string[] Prefix) Self()
    {
        var exe = Environment.ProcessPath ?? throw new EngineException("--nproc-per-node: cannot tell which program to start for the ranks");
        if (!string.Equals(Path.GetFileNameWithoutExtension(exe), "dotnet", StringComparison.Ordinal)) return (exe, []);
        // `dotnet Engine.Cli.dll …`: the first command-line argument is the assembly.
        var dll = Environment.GetCommandLineArgs()[0];
        if (!dll.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || !File.Exists(dll))
            throw new EngineException("--nproc-per-node: cannot tell which assembly to start for the ranks");
        return (exe, [dll]);
    }

    /// <summary>Starts a child in a session of its own (setsid), so the terminal's signals reach the launcher only.</summary>
    private static Process Start(ProcessStartInfo psi)
    {
        psi.UseShellExecute = false;
        if (File.Exists("/usr/bin/setsid") || File.Exists("/bin/setsid"))
        {
            psi.ArgumentList.Insert(0, psi.FileName);
            psi.FileName = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : "/bin/setsid";
        }
        return Process.Start(psi) ?? throw new EngineException($"--nproc-per-node: could not start {psi.FileName}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static int Supervise(List<Process> children, string statusDir, bool gpu, TextWriter error)
    {
        int signal = 0, signals = 0;
        var gate = new Lock();
        var signalled = new HashSet<int>();
        // Forwards the first signal to every rank that has said its pid, once; a rank still starting up gets it as
        // soon as its status line appears.
        void Forward()
        {
            foreach (var e in RankStatus.Read(statusDir))
                if (signalled.Add(e.Pid)) Kill(e.Pid, signal);
        }
        void OnSignal(PosixSignalContext s, int number)
        {
            s.Cancel = true;
            lock (gate)
            {
                signals++;
                if (signals == 1)
                {
                    signal = number;
                    error.WriteLine($"\n{s.Signal}: every rank finishes its step, rank 0 saves a checkpoint, then all exit (send it again to kill them)");
                    Forward();
                }
                else KillAll(children, statusDir);
            }
        }
        using var i = PosixSignalRegistration.Create(PosixSignal.SIGINT, s => OnSignal(s, 2));
        using var t = PosixSignalRegistration.Create(PosixSignal.SIGTERM, s => OnSignal(s, 15));
        using var h = PosixSignalRegistration.Create(PosixSignal.SIGHUP, s => OnSignal(s, 1));

        RankStatus.Entry? firstGone = null;
        Stopwatch? ending = null;
        while (!children.All(c => c.HasExited))
        {
            Thread.Sleep(100);
            // The first rank whose process vanished without saying how it ended: killed, or crashed.
            foreach (var e in RankStatus.Read(statusDir))
                if (firstGone is null && e.State == "running" && !Alive(e.Pid)) firstGone = e;
            bool failed = children.Any(c => c.HasExited && c.ExitCode != 0) || firstGone is not null;
            lock (gate)
            {
                if (signals == 1) Forward();
                if (!failed || signals > 0 || !gpu) continue; // mpirun ends its own job when a rank fails
                if (ending is null)
                {
                    ending = Stopwatch.StartNew();
                    foreach (var e in RankStatus.Read(statusDir)) Kill(e.Pid, 15);
                }
                else if (ending.Elapsed > GraceAfterFailure) KillAll(children, statusDir);
            }
        }
        var statuses = RankStatus.Read(statusDir);
        if (children.All(c => c.ExitCode == 0) && signals == 0) return 0;
        if (signals > 0 && statuses.All(s => s.State is "stopped" or "done")) return 128 + signal;
        error.WriteLine($"error: {Culprit(statuses, firstGone, gpu ? null : "mpirun", children)}");
        return signals > 0 ? 128 + signal : 1;
    }

    /// <summary>One line naming the rank that ended the job and its last step.</summary>
    private static string Culprit(IReadOnlyList<RankStatus.Entry> statuses, RankStatus.Entry? firstGone, string? runner, List<Process> children)
    {
        if (statuses.FirstOrDefault(s => s.State.StartsWith("failed", StringComparison.Ordinal)) is { } f)
            return $"rank {f.Rank} (pid {f.Pid}) {f.State} after step {f.Step}; the job stopped";
        if (firstGone is { } g)
            return $"rank {g.Rank} (pid {g.Pid}) died after step {g.Step} without saying why (killed by a signal, or out of memory); the job stopped";
        var codes = string.Join(", ", children.Select(c => c.ExitCode.ToString(CultureInfo.InvariantCulture)));
        return $"the job ended with exit code {codes}{(runner is null ? "" : $" ({runner})")} before every rank had started";
    }

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}") && !IsZombie(pid);

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static void KillAll(List<Process> children, string statusDir)
    {
        foreach (var e in RankStatus.Read(statusDir)) Kill(e.Pid, 9);
        foreach (var c in children)
            if (!c.HasExited) { Kill(-c.Id, 9); Kill(c.Id, 9); }
    }

    private static void Kill(int pid, int signal) => _ = KillNative(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);
}
