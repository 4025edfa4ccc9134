using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu;

/// <summary>The instruction set a GEMM micro-kernel is written for; tests force each one on a machine that has all.</summary>
internal enum GemmIsa { Scalar, Avx2, Avx512 }

/// <summary>Single-precision GEMM on row-major arrays: C = alpha·op(A)·op(B) + beta·C, with op(A) M×K and op(B) K×N.
/// lda/ldb/ldc are row strides in elements. Large shapes go through a packed, cache-blocked path
/// (<c>CpuGemm.Blocked.cs</c>); shapes with at most <see cref="SmallLimit"/> rows or columns (decode-time GEMV) go through
/// dot/axpy loops that read the big operand once (<c>CpuGemm.Small.cs</c>). Results are bit-identical run to run and do
/// not depend on the thread count: every element of C is summed in the same order whatever thread computes it.</summary>
internal static partial class CpuGemm
{
    /// <summary>Rows of op(A) or columns of op(B) up to which packing would cost more than it saves.</summary>
    internal const int SmallLimit = 8;

    /// <summary>The best micro-kernel this machine runs.</summary>
    internal static readonly GemmIsa DetectedIsa =
        Avx512F.IsSupported ? GemmIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? GemmIsa.Avx2 : GemmIsa.Scalar;

    /// <summary>beta == 0 overwrites C without reading it (NaN in C is ignored), as BLAS does.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc)
        => Sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc,
                 DetectedIsa, CpuParallel.Threads);

    /// <summary><see cref="Sgemm(bool,bool,int,int,int,float,float[],int,int,float[],int,int,float,float[],int,int)"/>
    /// with the kernel and thread count chosen by the caller (tests and benchmarks).</summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
                               float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                               float beta, float[] c, int cOff, int ldc, GemmIsa isa, int threads)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"sgemm sizes must be >= 0, got m={m} n={n} k={k}");
        if (m == 0 || n == 0) return;
        // The kernels use raw pointers, so every operand's extent is checked here once.
        CheckOperand("C", c, cOff, ldc, m, n);
        if (k == 0 || alpha == 0f)
        {
            ScaleC(c, cOff, ldc, m, n, beta);
            return;
        }
        if (transA) CheckOperand("A", a, aOff, lda, k, m); else CheckOperand("A", a, aOff, lda, m, k);
        if (transB) CheckOperand("B", b, bOff, ldb, n, k); else CheckOperand("B", b, bOff, ldb, k, n);
        if (isa > DetectedIsa) isa = DetectedIsa;
        threads = Math.Max(1, threads);
        // Below ~4 MFLOP a thread hand-off costs more than the second core gains.
        if ((double)m * n * k < 2e6) threads = 1;

        var g = new GemmOperands(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        if (m <= SmallLimit || n <= SmallLimit) SmallGemm(g, threads);
        else BlockedGemm(g, isa, threads);
    }

    private static void CheckOperand(string name, float[] x, int off, int ld, int rows, int cols)
    {
        if (off < 0 || ld < cols || (long)off + (long)(rows - 1) * ld + cols > x.Length)
            throw new ArgumentException(
                $"sgemm operand {name}: {rows}×{cols} at offset {off} with row stride {ld} does not fit in {x.Length} elements " +
                $"(need offset >= 0 and stride >= {cols})");
    }

    private static void ScaleC(float[] c, int cOff, int ldc, int m, int n, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.AsSpan(cOff + i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>Runs <paramref name="body"/> over <paramref name="parts"/> independent parts on up to
    /// <paramref name="threads"/> threads.</summary>
    private static void ForParts(int parts, int threads, Action<int> body)
    {
        if (parts <= 1 || threads <= 1)
        {
            for (int p = 0; p < parts; p++) body(p);
            return;
        }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }
}

/// <summary>One SGEMM call's arguments, passed by reference to the workers.</summary>
internal readonly record struct GemmOperands(
    bool TransA, bool TransB, int M, int N, int K, float Alpha,
    float[] A, int AOff, int Lda, float[] B, int BOff, int Ldb, float Beta, float[] C, int COff, int Ldc);
