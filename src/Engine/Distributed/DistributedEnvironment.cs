using System.Collections;
using System.Globalization;

namespace Engine.Distributed;

/// <summary>How this process was started as one rank of a job, read from the environment the launcher set:
/// Open MPI's mpirun (<c>OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK</c>) or torchrun's variables
/// (<c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>), which
/// <c>engine train --nproc-per-node</c> also sets. Null from <see cref="Detect()"/> means a plain single-process run.</summary>
internal sealed record DistributedEnvironment(int Rank, int Size, int LocalRank, DistributedLauncher Launcher,
                                              string? MasterAddr = null, int? MasterPort = null)
{
    /// <summary>The launcher's status folder (set by <c>--nproc-per-node</c>): each rank records its pid and last step
    /// there so the launcher can name the rank that failed.</summary>
    public const string StatusDirVariable = "ENGINE_DIST_STATUS_DIR";
    /// <summary>The launcher's pid: a rank whose launcher is gone stops (checkpoint and exit) instead of running on as an orphan.</summary>
    public const string LauncherPidVariable = "ENGINE_DIST_LAUNCHER_PID";

    /// <summary>"1" when the launcher's own output is not a terminal: rank 0 then prints plain progress lines, since
    /// mpirun gives each rank a pseudo-terminal whatever the launcher's output is.</summary>
    public const string PlainProgressVariable = "ENGINE_DIST_PLAIN_PROGRESS";

    public bool IsMain => Rank == 0;

    /// <summary>The job this process belongs to, or null when no launcher variable is set. A variable that is set but
    /// malformed or inconsistent throws, naming it.</summary>
    public static DistributedEnvironment? Detect() => Detect(Environment.GetEnvironmentVariables());

    public static DistributedEnvironment? Detect(IDictionary env)
    {
        string? Get(string name) => env[name] as string is { Length: > 0 } v ? v : null;
        if (Get("OMPI_COMM_WORLD_SIZE") is not null)
        {
            int size = Int(Get, "OMPI_COMM_WORLD_SIZE", 1);
            int rank = Int(Get, "OMPI_COMM_WORLD_RANK", 0);
            int local = Get("OMPI_COMM_WORLD_LOCAL_RANK") is null ? 0 : Int(Get, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
            Check(rank, size, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE");
            return new DistributedEnvironment(rank, size, local, DistributedLauncher.Mpirun);
        }
        if (Get("WORLD_SIZE") is null && Get("RANK") is null) return null;
        {
            int size = Int(Get, "WORLD_SIZE", 1);
            int rank = Int(Get, "RANK", 0);
            int local = Get("LOCAL_RANK") is null ? rank : Int(Get, "LOCAL_RANK", 0);
            Check(rank, size, "RANK", "WORLD_SIZE");
            var addr = Get("MASTER_ADDR");
            int? port = Get("MASTER_PORT") is null ? null : Int(Get, "MASTER_PORT", 1);
            if (port is > 65535) throw new EngineException($"environment variable MASTER_PORT: expected a TCP port 1..65535, got {port}");
            if (size > 1 && (addr is null || port is null))
                throw new EngineException("environment variables MASTER_ADDR and MASTER_PORT: both must be set for a job of " +
                                          $"WORLD_SIZE {size} (rank 0 listens there so the ranks can find each other)");
            return new DistributedEnvironment(rank, size, local, DistributedLauncher.Torchrun, addr, port);
        }
    }

    private static int Int(Func<string, string?> get, string name, int min)
    {
        var s = get(name) ?? throw new EngineException($"environment variable {name}: not set, but the other launcher variables are");
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min)
            throw new EngineException($"environment variable {name}: expected an integer ≥ {min}, got \"{s}\"");
        return v;
    }

    private static void Check(int rank, int size, string rankName, string sizeName)
    {
        if (rank >= size) throw new EngineException($"environment variable {rankName}: {rank} is not below {sizeName} {size}");
    }
}

/// <summary>Who started the ranks.</summary>
internal enum DistributedLauncher
{
    /// <summary>Open MPI's mpirun (or <c>engine train --nproc-per-node</c> on the CPU, which runs mpirun).</summary>
    Mpirun,
    /// <summary>torchrun's variables: <c>engine train --nproc-per-node</c> on GPUs, torchrun itself, or a scheduler.</summary>
    Torchrun,
}
