namespace Engine.Backends.Cuda.Native;

/// <summary>A cuBLAS handle with typed, status-checked calls. All pointers are device pointers; alpha and beta are
/// host floats (pointer mode host, the default), as CUBLAS_COMPUTE_32F requires.</summary>
internal sealed unsafe class Cublas : IDisposable
{
    private readonly CublasHandle _handle;

    private Cublas(CublasHandle handle) => _handle = handle;

    /// <summary>Loads cuBLAS (a <see cref="CudaException"/> listing the names tried when it is missing) and creates a
    /// handle. The CUDA context the handle belongs to must be current on this thread.</summary>
    public static Cublas Create()
    {
        NativeLibraries.EnsureResolver();
        NativeLibraries.Load("cuBLAS", NativeLibraries.CublasNames);
        CublasStatus.Check("cublasCreate_v2", CublasNative.cublasCreate_v2(out var h));
        return new Cublas(new CublasHandle(h));
    }

    private IntPtr H => _handle.DangerousGetHandle();

    public void SetStream(IntPtr stream) => CublasStatus.Check("cublasSetStream_v2", CublasNative.cublasSetStream_v2(H, stream));

    public void SetWorkspace(IntPtr workspace, long bytes) =>
        CublasStatus.Check("cublasSetWorkspace_v2", CublasNative.cublasSetWorkspace_v2(H, workspace, (nuint)bytes));

    public void SetMathMode(CublasMathMode mode) => CublasStatus.Check("cublasSetMathMode", CublasNative.cublasSetMathMode(H, (int)mode));

    /// <summary>Column-major C = alpha·op(A)·op(B) + beta·C with fp32 accumulation.</summary>
    public void GemmEx(CublasOperation transA, CublasOperation transB, int m, int n, int k, float alpha,
                       IntPtr a, CudaDataType aType, int lda, IntPtr b, CudaDataType bType, int ldb,
                       float beta, IntPtr c, CudaDataType cType, int ldc)
    {
        CublasStatus.Check("cublasGemmEx", CublasNative.cublasGemmEx(H, (int)transA, (int)transB, m, n, k,
            &alpha, a, (int)aType, lda, b, (int)bType, ldb, &beta, c, (int)cType, ldc,
            (int)CublasComputeType.Compute32F, CublasStatus.GemmDefaultAlgo));
    }

    public void GemmStridedBatchedEx(CublasOperation transA, CublasOperation transB, int m, int n, int k, float alpha,
                                     IntPtr a, CudaDataType aType, int lda, long strideA,
                                     IntPtr b, CudaDataType bType, int ldb, long strideB,
                                     float beta, IntPtr c, CudaDataType cType, int ldc, long strideC, int batchCount)
    {
        CublasStatus.Check("cublasGemmStridedBatchedEx", CublasNative.cublasGemmStridedBatchedEx(H, (int)transA, (int)transB,
            m, n, k, &alpha, a, (int)aType, lda, strideA, b, (int)bType, ldb, strideB, &beta, c, (int)cType, ldc, strideC,
            batchCount, (int)CublasComputeType.Compute32F, CublasStatus.GemmDefaultAlgo));
    }

    public void Dispose() => _handle.Dispose();
}
