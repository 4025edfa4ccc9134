using Engine.Backends.Cpu;
using Engine.Backends.Cuda;

namespace Engine.Backends;

/// <summary>Turns a --device value into a backend.</summary>
public static class Devices
{
    /// <summary>"cpu", "cuda" (= cuda:0), "cuda:N" or "auto" (CUDA when the driver reports a GPU, else the CPU).
    /// Asking for CUDA where there is none throws a one-line <see cref="EngineException"/> saying why. "auto" falls back
    /// to the CPU only when no GPU is present; a GPU that is present but unusable (say cuBLAS missing) is an error, so a
    /// broken install never turns silently into a CPU run that is a thousand times slower.</summary>
    public static IBackend Create(string spec)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return CpuBackend.Instance;
        if (s == "auto") return CudaProbe.WhyUnusable() is null ? IlgpuBackend.CreateCuda(0, "auto") : CpuBackend.Instance;
        if (s == "cuda") return IlgpuBackend.CreateCuda(0, spec);
        if (s.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(s.AsSpan(5), out int ordinal) && ordinal >= 0)
            return IlgpuBackend.CreateCuda(ordinal, spec);
        throw new EngineException($"--device {spec}: expected cpu, cuda, cuda:N or auto");
    }
}
