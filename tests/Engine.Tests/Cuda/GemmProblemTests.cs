using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends.Cuda.Native;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>cuBLAS is column-major; the backend hands it row-major tensors through <see cref="GemmProblem.FromRowMajor"/>.
/// Without a GPU, this runs the column-major problem it produces through a plain column-major GEMM written from the
/// cuBLAS documentation, with cuBLAS's A and B being our B and A, and compares with the CPU backend's row-major result.</summary>
public sealed class GemmProblemTests
{
    [Theory]
    [InlineData(false, false, 0)]
    [InlineData(false, true, 0)]
    [InlineData(true, false, 0)]
    [InlineData(true, true, 0)]
    [InlineData(false, false, 3)]
    [InlineData(true, true, 3)]
    [InlineData(false, true, -3)] // [3, M, K]·[N, K]ᵀ: rows flattened
    [InlineData(false, false, 33)] // [M, K]·[3, K, N]: A broadcast over the batch
    public void Row_major_matmul_maps_to_the_column_major_problem_cublas_needs(bool ta, bool tb, int batchCase)
    {
        const int m = 4, k = 5, n = 3;
        int batch = Math.Abs(batchCase) % 10;
        Shape sa = ta ? new(k, m) : new(m, k), sb = tb ? new(n, k) : new(k, n), sc = new(m, n);
        if (batchCase == 3) { sa = new(3, sa[0], sa[1]); sb = new(3, sb[0], sb[1]); sc = new(3, m, n); }
        if (batchCase == -3) { sa = new(3, m, k); sc = new(3, m, n); }
        if (batchCase == 33) { sb = new(3, k, n); sc = new(3, m, n); }

        var cpu = CpuBackend.Instance;
        var rng = new Rng(7);
        var av = new float[sa.NumElements]; rng.FillNormal(av, 0, 1);
        var bv = new float[sb.NumElements]; rng.FillNormal(bv, 0, 1);
        var cv = new float[sc.NumElements]; rng.FillNormal(cv, 0, 1);
        using var a = cpu.FromFloats(av, sa, DType.F32);
        using var b = cpu.FromFloats(bv, sb, DType.F32);
        using var c = cpu.FromFloats(cv, sc, DType.F32);
        var g = MatMulGeometry.Of(a, ta, b, tb, c);
        cpu.MatMul(a, ta, b, tb, c, 0.5f, 0.25f);
        var expected = new float[sc.NumElements];
        cpu.ToFloats(c, expected);

        var p = GemmProblem.FromRowMajor(g, ta, tb, CudaDataType.R32F, CudaDataType.R32F);
        var actual = (float[])cv.Clone();
        ColumnMajorGemm(p, bv, av, actual, 0.5f, 0.25f);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 4);
    }

    /// <summary>cublasGemmStridedBatchedEx's definition: C[i + j·ldc] = alpha·Σ_l op(A)[i, l]·op(B)[l, j] + beta·C, with
    /// op(A)[i, l] = A[i + l·lda] (N) or A[l + i·lda] (T).</summary>
    private static void ColumnMajorGemm(GemmProblem p, float[] a, float[] b, float[] c, float alpha, float beta)
    {
        for (int bi = 0; bi < p.Batch; bi++)
            for (int i = 0; i < p.M; i++)
                for (int j = 0; j < p.N; j++)
                {
                    double sum = 0;
                    for (int l = 0; l < p.K; l++)
                    {
                        float x = p.OpA == CublasOperation.N ? a[bi * p.StrideA + i + l * p.Lda] : a[bi * p.StrideA + l + i * p.Lda];
                        float y = p.OpB == CublasOperation.N ? b[bi * p.StrideB + l + j * p.Ldb] : b[bi * p.StrideB + j + l * p.Ldb];
                        sum += (double)x * y;
                    }
                    long ci = bi * p.StrideC + i + (long)j * p.Ldc;
                    c[ci] = (float)(alpha * sum + beta * c[ci]);
                }
    }
}
