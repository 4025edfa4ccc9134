using ILGPU;

namespace Engine.Kernels;

/// <summary>A row-major (batched) GEMM C = alpha·op(A)·op(B) + beta·C; lda/ldb/ldc are row strides in elements and
/// the strides step between batch entries (0 broadcasts an operand).</summary>
internal struct GemmShape
{
    public int Batch;
    public int M;
    public int N;
    public int K;
    public int Lda;
    public int Ldb;
    public int Ldc;
    public long StrideA;
    public long StrideB;
    public long StrideC;
    public int TransA;
    public int TransB;
    public float Alpha;
    public float Beta;
}

internal static class GemmKernels
{
    /// <summary>One thread per element of C with an fp32 dot product. The fallback where cuBLAS is not used (ILGPU's
    /// CPU accelerator in tests); on CUDA the backend calls cuBLAS. Performance work due if it is ever needed on a GPU:
    /// shared-memory tiles and mma.sync. With beta = 0, C is not read (it may hold garbage, even NaN).</summary>
    [GpuKernel]
    public static void Gemm<A, B, C>(ArrayView<byte> a, ArrayView<byte> b, ArrayView<byte> c, GemmShape s)
        where A : struct, IElement where B : struct, IElement where C : struct, IElement
    {
        long mn = (long)s.M * s.N;
        long total = mn * s.Batch;
        for (long idx = GridLoop.Start; idx < total; idx += GridLoop.Stride)
        {
            long bi = idx / mn;
            long rem = idx - bi * mn;
            int i = (int)(rem / s.N), j = (int)(rem - (long)i * s.N);
            long aOff = bi * s.StrideA, bOff = bi * s.StrideB;
            float dot = 0f;
            for (int kk = 0; kk < s.K; kk++)
            {
                float av = default(A).Load(a, aOff + (s.TransA != 0 ? (long)kk * s.Lda + i : (long)i * s.Lda + kk));
                float bv = default(B).Load(b, bOff + (s.TransB != 0 ? (long)j * s.Ldb + kk : (long)kk * s.Ldb + j));
                dot += av * bv;
            }
            long ci = bi * s.StrideC + (long)i * s.Ldc + j;
            default(C).Store(c, ci, s.Beta == 0f ? s.Alpha * dot : s.Alpha * dot + s.Beta * default(C).Load(c, ci));
        }
    }
}
