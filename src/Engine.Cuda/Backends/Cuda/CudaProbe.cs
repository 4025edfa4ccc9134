using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda;

/// <summary>Asks the CUDA driver directly whether a GPU is usable, so that a failure can say why (ILGPU only reports
/// zero devices, whatever the cause).</summary>
internal static class CudaProbe
{
    /// <summary>Null when the driver loads, initialises and reports at least one device; otherwise a short reason
    /// such as "libcuda.so.1 not loadable" or "cuInit: CUDA_ERROR_NO_DEVICE".</summary>
    public static string? WhyUnusable()
    {
        NativeLibraries.EnsureResolver();
        if (!NativeLibraries.TryLoad(NativeLibraries.DriverNames, out _, out var why))
            return $"{NativeLibraries.DriverNames[0]} not loadable: {why}";
        try
        {
            int r = CudaDriverNative.cuInit(0);
            if (r != 0) return $"cuInit: {CudaDriverNative.ErrorName(r)}";
            r = CudaDriverNative.cuDeviceGetCount(out int count);
            if (r != 0) return $"cuDeviceGetCount: {CudaDriverNative.ErrorName(r)}";
            return count > 0 ? null : "no devices";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return $"CUDA driver unusable: {e.Message}";
        }
    }

    /// <summary>The driver's CUDA version as "13.0", or null when it cannot be asked.</summary>
    public static string? DriverVersion()
    {
        try
        {
            NativeLibraries.EnsureResolver();
            if (!NativeLibraries.TryLoad(NativeLibraries.DriverNames, out _, out _)) return null;
            return CudaDriverNative.cuDriverGetVersion(out int v) == 0 ? $"{v / 1000}.{v % 1000 / 10}" : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
