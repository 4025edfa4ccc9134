namespace Engine.Backends.Cuda.Native;

/// <summary>ILGPU never raises a kernel's dynamic shared-memory limit, so launches asking for more than 48 KB fail with
/// "invalid argument" until cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) is called on the kernel's function
/// (verified on the H200, which allows up to 227 KB per group). A no-op on other accelerators.</summary>
internal static class KernelSharedMemory
{
    public const int DefaultLimitBytes = 48 * 1024;

    public static void AllowDynamic(ILGPU.Runtime.Kernel kernel, int bytes)
    {
        if (bytes <= DefaultLimitBytes || kernel is not ILGPU.Runtime.Cuda.CudaKernel cuda) return;
        NativeLibraries.EnsureResolver();
        CudaDriverNative.Check("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)",
            CudaDriverNative.cuFuncSetAttribute(cuda.FunctionPtr, CudaDriverNative.FuncAttributeMaxDynamicSharedSizeBytes, bytes));
    }

    /// <summary>The most dynamic shared memory one group may opt in to: the driver's per-block opt-in limit on CUDA
    /// (227 KB on an H200), else what the accelerator reports.</summary>
    public static long GroupLimit(ILGPU.Runtime.Accelerator accelerator)
    {
        if (accelerator is not ILGPU.Runtime.Cuda.CudaAccelerator cuda) return accelerator.MaxSharedMemoryPerGroup;
        NativeLibraries.EnsureResolver();
        if (CudaDriverNative.cuDeviceGet(out int device, cuda.DeviceId) == 0
            && CudaDriverNative.cuDeviceGetAttribute(out int optIn, CudaDriverNative.DeviceAttributeMaxSharedMemoryPerBlockOptin, device) == 0)
            return optIn;
        // Compute capability 8.0 and later reserve 1 KB of each SM's shared memory per group.
        return cuda.MaxSharedMemoryPerMultiprocessor - 1024;
    }
}
