using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Backends.Cpu;

/// <summary>Single-precision GEMM on row-major arrays: C = alpha·op(A)·op(B) + beta·C, with op(A) M×K and op(B) K×N.
/// lda/ldb/ldc are row strides in elements. Rows of C are computed in parallel.</summary>
internal static class CpuGemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (transA)
        {
            // Pack op(A) = Aᵀ into a contiguous M×K block once; the kernels below read rows of op(A).
            var packed = new float[(long)m * k];
            for (int kk = 0; kk < k; kk++)
                for (int i = 0; i < m; i++)
                    packed[(long)i * k + kk] = a[aOff + (long)kk * lda + i];
            a = packed; aOff = 0; lda = k;
        }

        if (transB)
        {
            CpuParallel.For(m, (long)n * k * 2, (i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                {
                    var arow = new ReadOnlySpan<float>(a, aOff + i * lda, k);
                    var crow = new Span<float>(c, cOff + i * ldc, n);
                    for (int j = 0; j < n; j++)
                    {
                        float dot = k == 0 ? 0f : TensorPrimitives.Dot(arow, new ReadOnlySpan<float>(b, bOff + j * ldb, k));
                        crow[j] = beta == 0f ? alpha * dot : alpha * dot + beta * crow[j];
                    }
                }
            });
            return;
        }

        CpuParallel.For(m, (long)n * k * 2, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                var crow = new Span<float>(c, cOff + i * ldc, n);
                if (beta == 0f) crow.Clear();
                else if (beta != 1f) TensorPrimitives.Multiply(crow, beta, crow);
                for (int kk = 0; kk < k; kk++)
                {
                    float s = alpha * a[aOff + i * lda + kk];
                    if (s == 0f) continue;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b, bOff + kk * ldb, n), s, crow, crow);
                }
            }
        });
    }
}
