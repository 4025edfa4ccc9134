namespace Engine.Backends.Cuda.Native;

/// <summary>cudaDataType_t values (library_types.h, CUDA 13.0).</summary>
internal enum CudaDataType
{
    R32F = 0,
    R16F = 2,
    R16BF = 14,
}

/// <summary>cublasOperation_t.</summary>
internal enum CublasOperation
{
    N = 0,
    T = 1,
}

/// <summary>cublasComputeType_t: CUBLAS_COMPUTE_32F keeps fp32 accumulation (and no TF32 unless the math mode allows).</summary>
internal enum CublasComputeType
{
    Compute32F = 68,
}

/// <summary>cublasMath_t. Pedantic forbids reduced-precision shortcuts; Default allows tensor cores for 16-bit inputs.</summary>
internal enum CublasMathMode
{
    Default = 0,
    Pedantic = 2,
}

internal static class CublasStatus
{
    public const int Success = 0;
    /// <summary>CUBLAS_GEMM_DEFAULT: let cuBLAS choose (the tensor-op alias 99 is deprecated).</summary>
    public const int GemmDefaultAlgo = -1;

    public static string Name(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => "CUBLAS_STATUS_UNKNOWN",
    };

    public static void Check(string call, int status)
    {
        if (status != Success) throw new CudaException(call, status, Name(status));
    }
}
