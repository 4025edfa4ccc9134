using System.Runtime.CompilerServices;
namespace Engine.Backends.Cpu;

// Packed layouts read by the micro-kernels, zero-padded past the matrix edge:
//   A block (mc×kc): panels of MR rows; panel q holds op(A)[ic+q·MR+r, pc+p] at q·MR·kc + p·MR + r.
//   B block (kc×nc): panels of NR columns; panel q holds op(B)[pc+p, jc+q·NR+j] at q·NR·kc + p·NR + j.
// The transposes live here: for each layout one of the two source orders is a contiguous copy, the other a gather.
internal static unsafe partial class CpuGemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transA, float* a, int lda, int ic, int pc, int mc, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr, dst += (long)mr * kc)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transA)
            {
                // op(A)[i, p] = A[p, i]: each k step is a contiguous run of the panel's rows.
                float* src = a + (long)pc * lda + ic + ir;
                for (int p = 0; p < kc; p++, src += lda)
                {
                    float* d = dst + (long)p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0f;
                }
            }
            else
            {
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(ic + ir + r) * lda + pc;
                    float* d = dst + r;
                    for (int p = 0; p < kc; p++) d[(long)p * mr] = src[p];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) dst[(long)p * mr + r] = 0f;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(bool transB, float* b, int ldb, int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr, dst += (long)nr * kc)
        {
            int cols = Math.Min(nr, nc - jr);
            if (!transB)
            {
                float* src = b + (long)pc * ldb + jc + jr;
                for (int p = 0; p < kc; p++, src += ldb)
                {
                    float* d = dst + (long)p * nr;
                    if (cols == nr) new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(d, nr));
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)[p, j] = B[j, p]: read each source row contiguously, scatter with stride NR.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (long)(jc + jr + j) * ldb + pc;
                    float* d = dst + j;
                    for (int p = 0; p < kc; p++) d[(long)p * nr] = src[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) dst[(long)p * nr + j] = 0f;
            }
        }
    }
}
