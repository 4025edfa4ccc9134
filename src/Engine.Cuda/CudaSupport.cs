using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Backends.Cuda.Nccl;
using Engine.Distributed;

namespace Engine.Cuda;

/// <summary>Plugs the CUDA backend into engine. Call <see cref="Register"/> once at start-up; afterwards
/// <c>--device cuda</c>, <c>cuda:N</c> and <c>auto</c> (and the library's <c>Device</c> options) can use a GPU, and
/// GPU ranks of a distributed job talk through NCCL.</summary>
public static class CudaSupport
{
    /// <summary>Makes the CUDA backend available to engine. Safe to call more than once.</summary>
    public static void Register()
    {
        Devices.Register(new CudaDeviceProvider());
        Communicators.Register(new NcclProvider());
    }

    /// <summary>Null when the CUDA driver loads and reports a GPU; otherwise a short reason.</summary>
    public static string? WhyUnusable() => CudaProbe.WhyUnusable();
}

internal sealed class CudaDeviceProvider : IDeviceProvider
{
    public string Prefix => "cuda";
    public string? WhyUnusable() => CudaProbe.WhyUnusable();
    public IBackend Create(int ordinal, string spec) => IlgpuBackend.CreateCuda(ordinal, spec);
}
