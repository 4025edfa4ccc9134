using System.Runtime.CompilerServices;

namespace Engine.Backends.Cpu;

// The GotoBLAS/BLIS loop nest. op(B) is packed KC×NC at a time into NR-wide column panels, op(A) MC×KC at a time into
// MR-tall row panels, both zero-padded to whole panels so the micro-kernel never branches on edges. The micro-kernel
// keeps an MR×NR tile of C in registers and walks KC: per step it loads NR/lanes vectors of the B panel and broadcasts
// MR values of the A panel. Loop order jc → pc → ic → jr → ir keeps one KC×NR B micro-panel in L1 while it meets every
// A micro-panel of the MC×KC block, which sits in L2; the KC×NC B block is reused by every MC block from L3.
internal static unsafe partial class CpuGemm
{
    /// <summary>Register tile (MR×NR) and cache blocks (KC, MC, NC) of one micro-kernel.</summary>
    private readonly record struct Blocking(int MR, int NR, int KC, int MC, int NC);

    private static Blocking BlockingFor(GemmIsa isa) => isa switch
    {
        // 12×32: 24 zmm accumulators + 2 B vectors + a broadcast of the 32 registers. KC·NR·4 = 40 KB B micro-panel
        // in the 48 KB L1; MC·KC·4 = 1.2 MB A block in the 2 MB L2; KC·NC·4 = 2.6 MB B block in L3. KC ≥ 288 keeps
        // the model's K = 288 products in one K block (C written once). KC 256..384, MC 500..1000, NC 1024..4096 all
        // ran within noise of each other on the 2-core Sapphire Rapids machine (bench/RESULTS.md).
        GemmIsa.Avx512 => new Blocking(12, 32, 320, 960, 2048),
        // 6×16: 12 ymm accumulators + 2 B vectors + a broadcast of the 16 registers (the Haswell shape).
        GemmIsa.Avx2 => new Blocking(6, 16, 320, 480, 2048),
        _ => new Blocking(4, 4, 320, 256, 1024),
    };

    private static void BlockedGemm(in GemmOperands g, GemmIsa isa, int threads)
    {
        var bl = BlockingFor(isa);
        // Each thread takes a contiguous, tile-aligned share of the larger of M and N and runs the whole loop nest on
        // it with its own packing buffers: no synchronisation inside, and the only duplicated work is packing the
        // shared operand (the smaller one), which is O(1/max(M, N)) of the multiply.
        bool splitM = g.M >= g.N;
        int tile = splitM ? bl.MR : bl.NR;
        int tiles = ((splitM ? g.M : g.N) + tile - 1) / tile;
        int parts = Math.Min(threads, tiles);
        var ops = g;
        ForParts(parts, threads, p =>
        {
            int t0 = (int)((long)tiles * p / parts), t1 = (int)((long)tiles * (p + 1) / parts);
            int lo = t0 * tile, hi = Math.Min(t1 * tile, splitM ? ops.M : ops.N);
            if (splitM) BlockedPart(ops, isa, bl, lo, hi, 0, ops.N);
            else BlockedPart(ops, isa, bl, 0, ops.M, lo, hi);
        });
    }

    /// <summary>C[i0..i1, j0..j1] of the product, single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockedPart(in GemmOperands g, GemmIsa isa, Blocking bl, int i0, int i1, int j0, int j1)
    {
        int mr = bl.MR, nr = bl.NR;
        // Blocks of equal size rather than full blocks and a sliver: a K block of 32 after one of 256 would read and
        // write C once more for little work, an MC block of 4 rows would run a mostly empty tile.
        int kcMax = EvenBlock(g.K, bl.KC, 1);
        int mcMax = EvenBlock(i1 - i0, bl.MC, mr);
        int ncMax = EvenBlock(j1 - j0, bl.NC, nr);
        float* scratch = Scratch((long)kcMax * (mcMax + ncMax) + mr * nr);
        float* ap = scratch, bp = scratch + (long)kcMax * mcMax, edge = bp + (long)kcMax * ncMax;

        fixed (float* a = g.A, b = g.B, c = g.C)
        {
            float* a0 = a + g.AOff, b0 = b + g.BOff;
            for (int jc = j0; jc < j1; jc += ncMax)
            {
                int nc = Math.Min(ncMax, j1 - jc);
                for (int pc = 0; pc < g.K; pc += kcMax)
                {
                    int kc = Math.Min(kcMax, g.K - pc);
                    PackB(isa, g.TransB, b0, g.Ldb, pc, jc, kc, nc, nr, bp);
                    // Later K blocks add onto what the first one wrote.
                    float beta = pc == 0 ? g.Beta : 1f;
                    for (int ic = i0; ic < i1; ic += mcMax)
                    {
                        int mc = Math.Min(mcMax, i1 - ic);
                        PackA(isa, g.TransA, a0, g.Lda, ic, pc, mc, kc, mr, ap);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nLeft = Math.Min(nr, nc - jr);
                            float* bPanel = bp + (long)jr * kc;
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                int mLeft = Math.Min(mr, mc - ir);
                                float* aPanel = ap + (long)ir * kc;
                                float* ct = c + g.COff + (long)(ic + ir) * g.Ldc + jc + jr;
                                if (mLeft == mr && nLeft == nr)
                                    MicroKernel(isa, aPanel, bPanel, kc, ct, g.Ldc, g.Alpha, beta);
                                else
                                {
                                    // A partial tile is computed whole into scratch and the valid corner merged with the
                                    // same arithmetic the kernel's own epilogue uses, so edge elements round identically.
                                    MicroKernel(isa, aPanel, bPanel, kc, edge, nr, 1f, 0f);
                                    MergeTile(edge, nr, ct, g.Ldc, mLeft, nLeft, g.Alpha, beta);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static void MicroKernel(GemmIsa isa, float* a, float* b, int kc, float* c, nint ldc, float alpha, float beta)
    {
        switch (isa)
        {
            case GemmIsa.Avx512: Kernel12x32Avx512(a, b, kc, c, ldc, alpha, beta); break;
            case GemmIsa.Avx2: Kernel6x16Avx2(a, b, kc, c, ldc, alpha, beta); break;
            default: Kernel4x4Scalar(a, b, kc, c, ldc, alpha, beta); break;
        }
    }

    /// <summary>c = alpha·t (+ beta·c unless beta is 0): a product then a sum, never fused, exactly as the kernels do.</summary>
    private static void MergeTile(float* t, int ldt, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                float v = t[i * ldt + j] * alpha;
                c[i * ldc + j] = beta == 0f ? v : v + c[i * ldc + j] * beta;
            }
    }

    /// <summary>The size of each of the fewest blocks of at most <paramref name="max"/> that cover
    /// <paramref name="length"/>, rounded up to a multiple of <paramref name="unit"/>.</summary>
    private static int EvenBlock(int length, int max, int unit)
    {
        int blocks = (length + max - 1) / max;
        int size = (length + blocks - 1) / blocks;
        return Math.Min((size + unit - 1) / unit * unit, (max + unit - 1) / unit * unit);
    }
}
