using System.Diagnostics;

namespace Engine.Distributed.Mpi;

/// <summary>The <c>mpirun</c> command that starts the CPU ranks of one job on this machine (<c>engine train
/// --nproc-per-node N</c> on the CPU, and the tests): Open MPI's mpirun found by <c>$ENGINE_MPIRUN</c> or on PATH, with
/// the flags a single machine, a container and root need.</summary>
internal static class MpiRun
{
    /// <summary>Names the mpirun to run instead of the one on PATH.</summary>
    public const string ExecutableVariable = "ENGINE_MPIRUN";

    /// <summary>A <see cref="ProcessStartInfo"/> for <c>mpirun -np <paramref name="ranks"/> flags… <paramref name="program"/>
    /// <paramref name="args"/>…</c>: output not redirected (the caller sets that), and each of
    /// <paramref name="rankEnvironment"/> set for mpirun and forwarded to every rank with <c>-x NAME</c>. Throws
    /// <see cref="EngineException"/> when no mpirun is found.</summary>
    /// <param name="ranks">Processes to start (≥ 1); more than this machine's cores is allowed.</param>
    /// <param name="program">The executable every rank runs (the engine, or <c>dotnet</c> with the CLI dll as first argument).</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="rankEnvironment">Extra environment variables of the ranks.</param>
    public static ProcessStartInfo Command(int ranks, string program, IEnumerable<string> args, IReadOnlyDictionary<string, string> rankEnvironment)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentException.ThrowIfNullOrEmpty(program);
        var psi = new ProcessStartInfo(Find()) { UseShellExecute = false };
        psi.ArgumentList.Add("-np");
        psi.ArgumentList.Add(ranks.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var flag in Flags) psi.ArgumentList.Add(flag);
        foreach (var (name, value) in rankEnvironment)
        {
            if (name.Length == 0 || name.Contains('='))
                throw new ArgumentException($"rank environment variable name \"{name}\" is empty or contains '='", nameof(rankEnvironment));
            psi.Environment[name] = value;
            psi.ArgumentList.Add("-x");
            psi.ArgumentList.Add(name);
        }
        psi.ArgumentList.Add(program);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>mpirun's flags, each needed on a small machine or in a container:
    /// <c>--allow-run-as-root</c>: mpirun refuses to start anything as root (CI containers run as root) unless told so;
    /// as another user it changes nothing;
    /// <c>--oversubscribe</c>: Open MPI counts one slot per core and refuses more ranks than cores (3 ranks on a 2-core
    /// CI box) unless told to oversubscribe;
    /// <c>--bind-to none</c>: by default each rank is pinned to one core (for 2 ranks or fewer) or one socket, so rank
    /// and compute threads share a core and the engine's thread pool, sized from the visible cores, fights itself;
    /// <c>--mca btl self,vader</c>: the ranks share one machine, so messages go through shared memory (vader) and to
    /// oneself (self) only; left out, Open MPI also opens its network transports (tcp, openib, ofi), which probe the
    /// container's interfaces and InfiniBand devices and warn when there are none;
    /// <c>--mca btl_vader_single_copy_mechanism none</c>: the shared-memory transport's default single copy uses Linux
    /// CMA (process_vm_readv), which containers without CAP_SYS_PTRACE refuse, failing every message of a few KiB or more.</summary>
    private static readonly string[] Flags =
    [
        "--allow-run-as-root",
        "--oversubscribe",
        "--bind-to", "none",
        "--mca", "btl", "self,vader",
        "--mca", "btl_vader_single_copy_mechanism", "none",
    ];

    /// <summary>$ENGINE_MPIRUN, else the first mpirun on PATH.</summary>
    private static string Find()
    {
        if (Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } set)
        {
            if (!File.Exists(set))
                throw new EngineException($"environment variable {ExecutableVariable}: {set} does not exist (expected Open MPI's mpirun)");
            return set;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "mpirun");
            if (File.Exists(candidate)) return candidate;
        }
        throw new EngineException($"mpirun was not found on PATH: CPU ranks need Open MPI's mpirun; install it (Debian/Ubuntu: apt-get install " +
                                  $"openmpi-bin libopenmpi-dev, or scripts/install-mpi.sh) or set {ExecutableVariable} to its path");
    }
}
