using Engine.Backends;
using Engine.Backends.Cpu;

namespace Engine.Distributed;

/// <summary>Makes the communicator of an accelerator's ranks: an assembly above the library registers one (Engine.Cuda
/// registers NCCL), as it registers its backend with <see cref="Devices"/>.</summary>
internal interface ICommunicatorProvider
{
    /// <summary>The --device prefix whose backends this provider connects ("cuda").</summary>
    string Prefix { get; }
    ICommunicator Create(DistributedEnvironment env, IBackend backend, TimeSpan timeout);
}

/// <summary>Picks the communicator for a rank's backend: Open MPI for CPU ranks, a registered provider (NCCL) for
/// accelerators.</summary>
internal static class Communicators
{
    private static readonly List<ICommunicatorProvider> Providers = new();
    private static readonly Lock Gate = new();

    /// <summary>The default collective timeout: torch.distributed's default for NCCL and Gloo process groups.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    public static void Register(ICommunicatorProvider provider)
    {
        lock (Gate)
        {
            if (Providers.Any(p => p.Prefix == provider.Prefix)) return;
            Providers.Add(provider);
        }
    }

    public static ICommunicator Create(DistributedEnvironment env, IBackend backend, TimeSpan timeout)
    {
        if (backend is CpuBackend)
        {
            if (env.Launcher != DistributedLauncher.Mpirun)
                throw new EngineException($"rank {env.Rank} of {env.Size} runs on the CPU, and CPU ranks talk through Open MPI: start them with " +
                                          "`engine train --nproc-per-node N ...` (which runs mpirun) or `mpirun -np N engine train ...`, not with torchrun's variables");
            return Mpi.MpiCommunicator.Create(env, timeout);
        }
        ICommunicatorProvider? provider;
        lock (Gate) provider = Providers.FirstOrDefault(p => backend.Name.StartsWith(p.Prefix, StringComparison.Ordinal));
        if (provider is null)
            throw new EngineException($"rank {env.Rank} of {env.Size}: no communicator for device {backend.Name} in this build");
        return provider.Create(env, backend, timeout);
    }
}
