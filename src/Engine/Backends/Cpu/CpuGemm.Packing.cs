using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu;

// Packed layouts read by the micro-kernels, zero-padded past the matrix edge:
//   A block (mc×kc): panels of MR rows; panel q holds op(A)[ic+q·MR+r, pc+p] at q·MR·kc + p·MR + r.
//   B block (kc×nc): panels of NR columns; panel q holds op(B)[pc+p, jc+q·NR+j] at q·NR·kc + p·NR + j.
// Both are "panels of w lanes, k-major inside a panel", so one routine packs either; the transposes live here. A source
// either holds one k step per row (op(A) = Aᵀ, op(B) = B: a contiguous copy) or one lane per row (op(A) = A,
// op(B) = Bᵀ: a gather).
internal static unsafe partial class CpuGemm
{
    private static void PackA(GemmIsa isa, bool transA, float* a, int lda, int ic, int pc, int mc, int kc, int mr, float* dst)
    {
        if (transA) PackKSteps(a + (long)pc * lda + ic, lda, kc, mc, mr, dst);
        else PackLanes(isa, a + (long)ic * lda + pc, lda, kc, mc, mr, dst);
    }

    private static void PackB(GemmIsa isa, bool transB, float* b, int ldb, int pc, int jc, int kc, int nc, int nr, float* dst)
    {
        if (transB) PackLanes(isa, b + (long)jc * ldb + pc, ldb, kc, nc, nr, dst);
        else PackKSteps(b + (long)pc * ldb + jc, ldb, kc, nc, nr, dst);
    }

    // The AVX-512 transpose goes with the AVX-512 kernel only, so that forcing the other kernels (as the tests do)
    // also covers the plain gather that machines without AVX-512 run.
    private static void PackLanes(GemmIsa isa, float* src, nint ld, int kc, int lanes, int w, float* dst)
    {
        if (isa == GemmIsa.Avx512 && Avx512F.IsSupported) PackLanesAvx512(src, ld, kc, lanes, w, dst);
        else PackLanesScalar(src, ld, kc, lanes, w, dst);
    }

    /// <summary>Source row p holds k step p for all <paramref name="lanes"/> lanes. Each source row is read once,
    /// start to end, so the hardware prefetcher streams it even when rows are far apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackKSteps(float* src, nint ld, int kc, int lanes, int w, float* dst)
    {
        int full = lanes / w * w, rest = lanes - full;
        long panel = (long)w * kc;
        for (int p = 0; p < kc; p++, src += ld)
        {
            float* d = dst + (long)p * w;
            int q = 0;
            for (; q < full; q += w, d += panel)
                new ReadOnlySpan<float>(src + q, w).CopyTo(new Span<float>(d, w));
            if (rest > 0)
            {
                int r = 0;
                for (; r < rest; r++) d[r] = src[q + r];
                for (; r < w; r++) d[r] = 0f;
            }
        }
    }

    /// <summary>Source row l holds lane l for all <paramref name="kc"/> k steps: a transpose. Rows are usually far
    /// apart (a weight's row stride), so the next panel's rows are prefetched while this one is scattered.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackLanesScalar(float* src, nint ld, int kc, int lanes, int w, float* dst)
    {
        for (int q = 0; q < lanes; q += w, dst += (long)w * kc)
        {
            int rows = Math.Min(w, lanes - q);
            for (int r = 0; r < rows; r++)
            {
                float* s = src + (q + r) * ld;
                if (Sse.IsSupported && q + w + r < lanes)
                    for (int off = 0; off < kc; off += 16) Sse.Prefetch0(s + w * ld + off);
                float* d = dst + r;
                for (int p = 0; p < kc; p++) d[(long)p * w] = s[p];
            }
            for (int r = rows; r < w; r++)
                for (int p = 0; p < kc; p++) dst[(long)p * w + r] = 0f;
        }
    }

    /// <summary><see cref="PackLanes"/> sixteen lanes by sixteen k steps at a time: 16 row loads, a 16×16
    /// register transpose (64 shuffles for 256 floats, against one load and one store per float when scalar), 16
    /// stores. Lanes past the matrix edge transpose as zeros; the last few k steps go one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackLanesAvx512(float* src, nint ld, int kc, int lanes, int w, float* dst)
    {
        var iota = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int q = 0; q < lanes; q += w, dst += (long)w * kc)
        {
            int rows = Math.Min(w, lanes - q);
            if (q + w < lanes)
                for (int r = 0; r < Math.Min(w, lanes - q - w); r++)
                    for (int off = 0; off < kc; off += 16) Sse.Prefetch0(src + (q + w + r) * ld + off);
            for (int r0 = 0; r0 < w; r0 += 16)
            {
                int n = Math.Min(16, w - r0), valid = Math.Clamp(rows - r0, 0, n);
                var mask = Vector512.LessThan(iota, Vector512.Create((float)n));
                float* s = src + (q + r0) * ld;
                float* d = dst + r0;
                int p = 0;
                for (; p + 16 <= kc; p += 16)
                {
                    var x0 = 0 < valid ? Vector512.Load(s + 0 * ld + p) : default;
                    var x1 = 1 < valid ? Vector512.Load(s + 1 * ld + p) : default;
                    var x2 = 2 < valid ? Vector512.Load(s + 2 * ld + p) : default;
                    var x3 = 3 < valid ? Vector512.Load(s + 3 * ld + p) : default;
                    var x4 = 4 < valid ? Vector512.Load(s + 4 * ld + p) : default;
                    var x5 = 5 < valid ? Vector512.Load(s + 5 * ld + p) : default;
                    var x6 = 6 < valid ? Vector512.Load(s + 6 * ld + p) : default;
                    var x7 = 7 < valid ? Vector512.Load(s + 7 * ld + p) : default;
                    var x8 = 8 < valid ? Vector512.Load(s + 8 * ld + p) : default;
                    var x9 = 9 < valid ? Vector512.Load(s + 9 * ld + p) : default;
                    var x10 = 10 < valid ? Vector512.Load(s + 10 * ld + p) : default;
                    var x11 = 11 < valid ? Vector512.Load(s + 11 * ld + p) : default;
                    var x12 = 12 < valid ? Vector512.Load(s + 12 * ld + p) : default;
                    var x13 = 13 < valid ? Vector512.Load(s + 13 * ld + p) : default;
                    var x14 = 14 < valid ? Vector512.Load(s + 14 * ld + p) : default;
                    var x15 = 15 < valid ? Vector512.Load(s + 15 * ld + p) : default;
                    var t0 = Avx512F.UnpackLow(x0, x1); var t1 = Avx512F.UnpackHigh(x0, x1);
                    var t2 = Avx512F.UnpackLow(x2, x3); var t3 = Avx512F.UnpackHigh(x2, x3);
                    var t4 = Avx512F.UnpackLow(x4, x5); var t5 = Avx512F.UnpackHigh(x4, x5);
                    var t6 = Avx512F.UnpackLow(x6, x7); var t7 = Avx512F.UnpackHigh(x6, x7);
                    var t8 = Avx512F.UnpackLow(x8, x9); var t9 = Avx512F.UnpackHigh(x8, x9);
                    var t10 = Avx512F.UnpackLow(x10, x11); var t11 = Avx512F.UnpackHigh(x10, x11);
                    var t12 = Avx512F.UnpackLow(x12, x13); var t13 = Avx512F.UnpackHigh(x12, x13);
                    var t14 = Avx512F.UnpackLow(x14, x15); var t15 = Avx512F.UnpackHigh(x14, x15);
                    var u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); var u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
                    var u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); var u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
                    var u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); var u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
                    var u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); var u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
                    var u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle(); var u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
                    var u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle(); var u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
                    var u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle(); var u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
                    var u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle(); var u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
                    var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
                    var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
                    var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
                    var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
                    var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
                    var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
                    var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
                    var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);
                    Avx512F.MaskStore(d + (p + 0) * w, mask, Avx512F.Shuffle4x128(v0, v8, 0x88)); Avx512F.MaskStore(d + (p + 8) * w, mask, Avx512F.Shuffle4x128(v0, v8, 0xDD));
                    Avx512F.MaskStore(d + (p + 1) * w, mask, Avx512F.Shuffle4x128(v1, v9, 0x88)); Avx512F.MaskStore(d + (p + 9) * w, mask, Avx512F.Shuffle4x128(v1, v9, 0xDD));
                    Avx512F.MaskStore(d + (p + 2) * w, mask, Avx512F.Shuffle4x128(v2, v10, 0x88)); Avx512F.MaskStore(d + (p + 10) * w, mask, Avx512F.Shuffle4x128(v2, v10, 0xDD));
                    Avx512F.MaskStore(d + (p + 3) * w, mask, Avx512F.Shuffle4x128(v3, v11, 0x88)); Avx512F.MaskStore(d + (p + 11) * w, mask, Avx512F.Shuffle4x128(v3, v11, 0xDD));
                    Avx512F.MaskStore(d + (p + 4) * w, mask, Avx512F.Shuffle4x128(v4, v12, 0x88)); Avx512F.MaskStore(d + (p + 12) * w, mask, Avx512F.Shuffle4x128(v4, v12, 0xDD));
                    Avx512F.MaskStore(d + (p + 5) * w, mask, Avx512F.Shuffle4x128(v5, v13, 0x88)); Avx512F.MaskStore(d + (p + 13) * w, mask, Avx512F.Shuffle4x128(v5, v13, 0xDD));
                    Avx512F.MaskStore(d + (p + 6) * w, mask, Avx512F.Shuffle4x128(v6, v14, 0x88)); Avx512F.MaskStore(d + (p + 14) * w, mask, Avx512F.Shuffle4x128(v6, v14, 0xDD));
                    Avx512F.MaskStore(d + (p + 7) * w, mask, Avx512F.Shuffle4x128(v7, v15, 0x88)); Avx512F.MaskStore(d + (p + 15) * w, mask, Avx512F.Shuffle4x128(v7, v15, 0xDD));
                }
                for (; p < kc; p++)
                    for (int i = 0; i < n; i++) d[p * w + i] = i < valid ? s[i * ld + p] : 0f;
            }
        }
    }
}
