using Engine.Distributed;

namespace Engine.Backends.Cuda.Nccl;

/// <summary>Connects the ranks of <c>--device cuda</c> jobs through NCCL; registered with
/// <see cref="Communicators"/> by <see cref="Engine.Cuda.CudaSupport.Register"/>.</summary>
internal sealed class NcclProvider : ICommunicatorProvider
{
    public string Prefix => "cuda";

    public ICommunicator Create(DistributedEnvironment env, IBackend backend, TimeSpan timeout) => NcclCommunicator.Create(env, backend, timeout);
}
