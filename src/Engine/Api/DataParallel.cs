using Engine.Backends;
using Engine.Distributed;

namespace Engine.Api;

/// <summary>Data-parallel fine-tuning across processes, as torchrun starts them. A process started by mpirun, by
/// torchrun (or a scheduler setting its variables) or by <see cref="Launch"/> is one rank: <see cref="FineTuning.Run"/>
/// then trains its share of each global batch (batch size × ranks rows), sums gradients with the others (Open MPI for
/// CPU ranks, NCCL for GPUs) and leaves every output to rank 0.</summary>
public static class DataParallel
{
    /// <summary>True in a process that a launcher started as one rank of a job (mpirun's or torchrun's variables are set).</summary>
    public static bool IsRank => DistributedEnvironment.Detect() is not null;

    /// <summary>Starts <paramref name="ranks"/> processes of this program with <paramref name="arguments"/> (the
    /// same command line without the launch flag) and supervises them until they end: CPU ranks (device "cpu", or
    /// "auto" without a GPU) under Open MPI's mpirun, GPU ranks one per device with torchrun's variables. Ctrl-C,
    /// SIGTERM and SIGHUP are forwarded to every rank once (the job checkpoints and stops) and kill them the second
    /// time. Returns 0, 128 + the signal that stopped the job, or 1 after writing which rank failed to
    /// <paramref name="error"/>.</summary>
    public static int Launch(int ranks, string device, IReadOnlyList<string> arguments, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(error);
        bool gpu = Devices.IsAccelerator(device);
        if (gpu && device.Contains(':', StringComparison.Ordinal))
            throw new EngineException($"--device {device}: with --nproc-per-node each rank takes the GPU of its local rank; use --device cuda");
        return LocalLauncher.Run(ranks, gpu, arguments, error);
    }

    /// <summary><c>engine selftest --collectives</c>, in a process that mpirun started: checks Open MPI's all-reduce,
    /// broadcast and barrier between the CPU ranks against sums known exactly and writes one line per rank; false on a
    /// mismatch. <paramref name="stallRank"/> sleeps <paramref name="stallSeconds"/> before the barrier (the timeout's
    /// own check; -1 for none).</summary>
    public static bool CheckCollectives(TimeSpan? timeout, int stallRank, double stallSeconds, TextWriter output) =>
        CollectivesSelfTest.Run(timeout, stallRank, stallSeconds, output);
}
