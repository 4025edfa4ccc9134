using Microsoft.Win32.SafeHandles;

namespace Engine.Backends.Cuda.Native;

/// <summary>Owns a cublasHandle_t; destroying it releases cuBLAS's per-handle resources.</summary>
internal sealed class CublasHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public CublasHandle(IntPtr handle) : base(ownsHandle: true) => SetHandle(handle);

    protected override bool ReleaseHandle() => CublasNative.cublasDestroy_v2(handle) == CublasStatus.Success;
}
