using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda;

/// <summary>A (strided-batched) GEMM as cuBLAS sees it: column-major, C[m, n] = op(A)·op(B), leading dimensions and
/// batch strides in elements. Also the cache key of a cuBLASLt plan (pointers and scalars are not part of it).</summary>
internal readonly record struct GemmProblem(
    CublasOperation OpA, CublasOperation OpB, int M, int N, int K,
    CudaDataType AType, int Lda, long StrideA,
    CudaDataType BType, int Ldb, long StrideB,
    CudaDataType CType, int Ldc, long StrideC, int Batch)
{
    /// <summary>Row-major C[M, N] = op(A)·op(B) read column-major is Cᵀ[N, M] = op(B)ᵀ·op(A)ᵀ, so cuBLAS gets our B as its
    /// A and our A as its B, with m = N, n = M. A row-major operand X read column-major is Xᵀ: for B not transposed,
    /// cuBLAS's "A" is Bᵀ stored with leading dimension N and no further transpose; for B transposed ([N, K] row-major)
    /// it must be transposed (leading dimension K). Likewise for A. Verified exact on the H200 (ilgpu-cuda-notes §7).</summary>
    public static GemmProblem FromRowMajor(MatMulGeometry g, bool transA, bool transB, CudaDataType inputType, CudaDataType cType) =>
        new(transB ? CublasOperation.T : CublasOperation.N, transA ? CublasOperation.T : CublasOperation.N, g.N, g.M, g.K,
            inputType, transB ? g.K : g.N, g.StrideB,
            inputType, transA ? g.M : g.K, g.StrideA,
            cType, g.N, g.StrideC, g.Batch);
}
