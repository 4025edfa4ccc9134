using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu;

// Micro-kernels: C[MR×NR] = alpha·Σ_p a[p·MR + r]·b[p·NR + j] (+ beta·C unless beta is 0, in which case C is not read).
// The tile lives in registers for the whole K walk; each element is one fused multiply-add chain in p order, then
// one multiply by alpha and one add of beta·C, so a tile computed through the edge path rounds identically.
// Written out register by register because the JIT keeps locals, not array elements, in registers.
internal static unsafe partial class CpuGemm
{
    /// <summary>12×32 tile in 24 zmm accumulators: per K step 2 loads of B, 12 broadcasts of A, 24 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32Avx512(float* a, float* b, int kc, float* c, nint ldc, float alpha, float beta)
    {
        var c0_0 = Vector512<float>.Zero; var c0_1 = Vector512<float>.Zero;
        var c1_0 = Vector512<float>.Zero; var c1_1 = Vector512<float>.Zero;
        var c2_0 = Vector512<float>.Zero; var c2_1 = Vector512<float>.Zero;
        var c3_0 = Vector512<float>.Zero; var c3_1 = Vector512<float>.Zero;
        var c4_0 = Vector512<float>.Zero; var c4_1 = Vector512<float>.Zero;
        var c5_0 = Vector512<float>.Zero; var c5_1 = Vector512<float>.Zero;
        var c6_0 = Vector512<float>.Zero; var c6_1 = Vector512<float>.Zero;
        var c7_0 = Vector512<float>.Zero; var c7_1 = Vector512<float>.Zero;
        var c8_0 = Vector512<float>.Zero; var c8_1 = Vector512<float>.Zero;
        var c9_0 = Vector512<float>.Zero; var c9_1 = Vector512<float>.Zero;
        var c10_0 = Vector512<float>.Zero; var c10_1 = Vector512<float>.Zero;
        var c11_0 = Vector512<float>.Zero; var c11_1 = Vector512<float>.Zero;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]); c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]); c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]); c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]); c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]); c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]); c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]); c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]); c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]); c8_0 = Avx512F.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]); c9_0 = Avx512F.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]); c10_0 = Avx512F.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]); c11_0 = Avx512F.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(a11, b1, c11_1);
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            (c0_0 * va).Store(c + 0 * ldc + 0); (c0_1 * va).Store(c + 0 * ldc + 16);
            (c1_0 * va).Store(c + 1 * ldc + 0); (c1_1 * va).Store(c + 1 * ldc + 16);
            (c2_0 * va).Store(c + 2 * ldc + 0); (c2_1 * va).Store(c + 2 * ldc + 16);
            (c3_0 * va).Store(c + 3 * ldc + 0); (c3_1 * va).Store(c + 3 * ldc + 16);
            (c4_0 * va).Store(c + 4 * ldc + 0); (c4_1 * va).Store(c + 4 * ldc + 16);
            (c5_0 * va).Store(c + 5 * ldc + 0); (c5_1 * va).Store(c + 5 * ldc + 16);
            (c6_0 * va).Store(c + 6 * ldc + 0); (c6_1 * va).Store(c + 6 * ldc + 16);
            (c7_0 * va).Store(c + 7 * ldc + 0); (c7_1 * va).Store(c + 7 * ldc + 16);
            (c8_0 * va).Store(c + 8 * ldc + 0); (c8_1 * va).Store(c + 8 * ldc + 16);
            (c9_0 * va).Store(c + 9 * ldc + 0); (c9_1 * va).Store(c + 9 * ldc + 16);
            (c10_0 * va).Store(c + 10 * ldc + 0); (c10_1 * va).Store(c + 10 * ldc + 16);
            (c11_0 * va).Store(c + 11 * ldc + 0); (c11_1 * va).Store(c + 11 * ldc + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Merge(c0_0, c + 0 * ldc + 0, va, vb); Merge(c0_1, c + 0 * ldc + 16, va, vb);
            Merge(c1_0, c + 1 * ldc + 0, va, vb); Merge(c1_1, c + 1 * ldc + 16, va, vb);
            Merge(c2_0, c + 2 * ldc + 0, va, vb); Merge(c2_1, c + 2 * ldc + 16, va, vb);
            Merge(c3_0, c + 3 * ldc + 0, va, vb); Merge(c3_1, c + 3 * ldc + 16, va, vb);
            Merge(c4_0, c + 4 * ldc + 0, va, vb); Merge(c4_1, c + 4 * ldc + 16, va, vb);
            Merge(c5_0, c + 5 * ldc + 0, va, vb); Merge(c5_1, c + 5 * ldc + 16, va, vb);
            Merge(c6_0, c + 6 * ldc + 0, va, vb); Merge(c6_1, c + 6 * ldc + 16, va, vb);
            Merge(c7_0, c + 7 * ldc + 0, va, vb); Merge(c7_1, c + 7 * ldc + 16, va, vb);
            Merge(c8_0, c + 8 * ldc + 0, va, vb); Merge(c8_1, c + 8 * ldc + 16, va, vb);
            Merge(c9_0, c + 9 * ldc + 0, va, vb); Merge(c9_1, c + 9 * ldc + 16, va, vb);
            Merge(c10_0, c + 10 * ldc + 0, va, vb); Merge(c10_1, c + 10 * ldc + 16, va, vb);
            Merge(c11_0, c + 11 * ldc + 0, va, vb); Merge(c11_1, c + 11 * ldc + 16, va, vb);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Merge(Vector512<float> acc, float* dst, Vector512<float> va, Vector512<float> vb)
            => (acc * va + Vector512.Load(dst) * vb).Store(dst);
    }

    /// <summary>6×16 tile in 12 ymm accumulators: per K step 2 loads of B, 6 broadcasts of A, 12 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16Avx2(float* a, float* b, int kc, float* c, nint ldc, float alpha, float beta)
    {
        var c0_0 = Vector256<float>.Zero; var c0_1 = Vector256<float>.Zero;
        var c1_0 = Vector256<float>.Zero; var c1_1 = Vector256<float>.Zero;
        var c2_0 = Vector256<float>.Zero; var c2_1 = Vector256<float>.Zero;
        var c3_0 = Vector256<float>.Zero; var c3_1 = Vector256<float>.Zero;
        var c4_0 = Vector256<float>.Zero; var c4_1 = Vector256<float>.Zero;
        var c5_0 = Vector256<float>.Zero; var c5_1 = Vector256<float>.Zero;
        for (int p = 0; p < kc; p++, a += 6, b += 16)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]); c0_0 = Fma.MultiplyAdd(a0, b0, c0_0); c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]); c1_0 = Fma.MultiplyAdd(a1, b0, c1_0); c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]); c2_0 = Fma.MultiplyAdd(a2, b0, c2_0); c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]); c3_0 = Fma.MultiplyAdd(a3, b0, c3_0); c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]); c4_0 = Fma.MultiplyAdd(a4, b0, c4_0); c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]); c5_0 = Fma.MultiplyAdd(a5, b0, c5_0); c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
        }
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (c0_0 * va).Store(c + 0 * ldc + 0); (c0_1 * va).Store(c + 0 * ldc + 8);
            (c1_0 * va).Store(c + 1 * ldc + 0); (c1_1 * va).Store(c + 1 * ldc + 8);
            (c2_0 * va).Store(c + 2 * ldc + 0); (c2_1 * va).Store(c + 2 * ldc + 8);
            (c3_0 * va).Store(c + 3 * ldc + 0); (c3_1 * va).Store(c + 3 * ldc + 8);
            (c4_0 * va).Store(c + 4 * ldc + 0); (c4_1 * va).Store(c + 4 * ldc + 8);
            (c5_0 * va).Store(c + 5 * ldc + 0); (c5_1 * va).Store(c + 5 * ldc + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Merge(c0_0, c + 0 * ldc + 0, va, vb); Merge(c0_1, c + 0 * ldc + 8, va, vb);
            Merge(c1_0, c + 1 * ldc + 0, va, vb); Merge(c1_1, c + 1 * ldc + 8, va, vb);
            Merge(c2_0, c + 2 * ldc + 0, va, vb); Merge(c2_1, c + 2 * ldc + 8, va, vb);
            Merge(c3_0, c + 3 * ldc + 0, va, vb); Merge(c3_1, c + 3 * ldc + 8, va, vb);
            Merge(c4_0, c + 4 * ldc + 0, va, vb); Merge(c4_1, c + 4 * ldc + 8, va, vb);
            Merge(c5_0, c + 5 * ldc + 0, va, vb); Merge(c5_1, c + 5 * ldc + 8, va, vb);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Merge(Vector256<float> acc, float* dst, Vector256<float> va, Vector256<float> vb)
            => (acc * va + Vector256.Load(dst) * vb).Store(dst);
    }

    /// <summary>4×4 tile in 16 scalar accumulators, for machines without AVX2+FMA (plain multiply-add, not fused).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x4Scalar(float* a, float* b, int kc, float* c, nint ldc, float alpha, float beta)
    {
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        for (int p = 0; p < kc; p++, a += 4, b += 4)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0]; c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
            float a1 = a[1]; c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
            float a2 = a[2]; c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
            float a3 = a[3]; c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
        }
        Merge(c0_0, c + 0 * ldc + 0, alpha, beta); Merge(c0_1, c + 0 * ldc + 1, alpha, beta); Merge(c0_2, c + 0 * ldc + 2, alpha, beta); Merge(c0_3, c + 0 * ldc + 3, alpha, beta);
        Merge(c1_0, c + 1 * ldc + 0, alpha, beta); Merge(c1_1, c + 1 * ldc + 1, alpha, beta); Merge(c1_2, c + 1 * ldc + 2, alpha, beta); Merge(c1_3, c + 1 * ldc + 3, alpha, beta);
        Merge(c2_0, c + 2 * ldc + 0, alpha, beta); Merge(c2_1, c + 2 * ldc + 1, alpha, beta); Merge(c2_2, c + 2 * ldc + 2, alpha, beta); Merge(c2_3, c + 2 * ldc + 3, alpha, beta);
        Merge(c3_0, c + 3 * ldc + 0, alpha, beta); Merge(c3_1, c + 3 * ldc + 1, alpha, beta); Merge(c3_2, c + 3 * ldc + 2, alpha, beta); Merge(c3_3, c + 3 * ldc + 3, alpha, beta);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Merge(float acc, float* dst, float alpha, float beta)
            => *dst = beta == 0f ? acc * alpha : acc * alpha + *dst * beta;
    }
}
