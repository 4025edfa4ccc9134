using System.Runtime.InteropServices;

namespace Engine.Backends.Cuda.Native;

/// <summary>The few driver-API calls ILGPU does not expose: diagnosis of a missing GPU (cuInit, cuDeviceGetCount,
/// cuGetErrorName), more than 48 KB of dynamic shared memory (cuFuncSetAttribute to opt in, cuDeviceGetAttribute
/// for the limit) and a stream poll that never blocks (cuStreamQuery, so NCCL collectives can wait with a deadline).
/// Resolved to libcuda.so.1 through <see cref="NativeLibraries"/>.</summary>
internal static unsafe partial class CudaDriverNative
{
    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.</summary>
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN.</summary>
    public const int DeviceAttributeMaxSharedMemoryPerBlockOptin = 97;

    /// <summary>CUDA_ERROR_NOT_READY: cuStreamQuery's answer while work is still queued on the stream.</summary>
    public const int ErrorNotReady = 600;

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuInit(uint flags);

    /// <summary>0 when everything queued on <paramref name="stream"/> has finished, <see cref="ErrorNotReady"/> while
    /// it has not, another CUresult when the stream failed.</summary>
    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuStreamQuery(IntPtr stream);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuDeviceGetCount(out int count);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuDriverGetVersion(out int version);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuGetErrorName(int error, out IntPtr name);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(NativeLibraries.CudaDriver)]
    internal static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>"CUDA_ERROR_NO_DEVICE" for 100, and so on.</summary>
    public static string ErrorName(int error)
    {
        if (cuGetErrorName(error, out var p) == 0 && p != IntPtr.Zero) return Marshal.PtrToStringAnsi(p) ?? $"CUresult {error}";
        return $"CUresult {error}";
    }

    public static void Check(string call, int result)
    {
        if (result != 0) throw new CudaException(call, result, ErrorName(result));
    }
}
