using System.Runtime.InteropServices;

namespace Engine.Backends.Cuda.Native;

/// <summary>The cuBLAS v2 entry points engine uses. Signatures from cublas_api.h (CUDA 13.0); every function returns a
/// cublasStatus_t. The library is found by <see cref="NativeLibraries"/> (libcublas.so.13, then .so.12); call
/// <see cref="Cublas.Create"/> rather than these directly, since it loads the library with a clear error first.</summary>
internal static unsafe partial class CublasNative
{
    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasCreate_v2(out IntPtr handle);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasDestroy_v2(IntPtr handle);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasSetStream_v2(IntPtr handle, IntPtr stream);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasSetWorkspace_v2(IntPtr handle, IntPtr workspace, nuint workspaceSizeInBytes);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasSetMathMode(IntPtr handle, int mode);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasGemmEx(IntPtr handle, int transa, int transb, int m, int n, int k,
        float* alpha, IntPtr a, int aType, int lda, IntPtr b, int bType, int ldb,
        float* beta, IntPtr c, int cType, int ldc, int computeType, int algo);

    [LibraryImport(NativeLibraries.Cublas)]
    internal static partial int cublasGemmStridedBatchedEx(IntPtr handle, int transa, int transb, int m, int n, int k,
        float* alpha, IntPtr a, int aType, int lda, long strideA, IntPtr b, int bType, int ldb, long strideB,
        float* beta, IntPtr c, int cType, int ldc, long strideC, int batchCount, int computeType, int algo);
}
