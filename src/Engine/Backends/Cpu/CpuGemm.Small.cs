using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Backends.Cpu;

// Shapes with few rows (decode-time x·Wᵀ with one token) or few columns are memory-bound: the large operand is read
// once and the arithmetic is a handful of dot products or axpys per element of it, so packing it for the blocked path
// would cost as much as the multiply. The small operand is copied into a contiguous [rows][K] block (at most
// SmallLimit·K floats), then one of two loop shapes reads the large operand in its stored order:
//   dot:  out[r, j] = Σ_p x[r, p]·y[j, p]   when the large operand's rows run along K;
//   axpy: out[r, j] = Σ_p x[r, p]·y[p, j]   when they run across it (accumulated in a scratch strip, then merged).
// out is C itself, or Cᵀ when the few items are C's columns (n <= SmallLimit).
internal static unsafe partial class CpuGemm
{
    /// <summary>Columns of the axpy strip: rows·width floats of accumulator (at most 128 KB) stay in L2 while K steps stream
    /// past; a whole 4096-wide row per K step keeps the reads of the large operand long enough to prefetch.</summary>
    private const int AxpyWidth = 4096;

    private static void SmallGemm(in GemmOperands g, int threads)
    {
        bool fewRows = g.M <= SmallLimit;
        int rows = fewRows ? g.M : g.N, items = fewRows ? g.N : g.M, k = g.K;
        bool dot = fewRows ? g.TransB : !g.TransA;
        // Chunks are whole 64-column blocks (dot) or strips no wider than AxpyWidth that still give every thread one.
        int chunk = dot ? 64 : Math.Min(AxpyWidth, ((items + threads - 1) / threads + 63) / 64 * 64);
        int chunks = (items + chunk - 1) / chunk;
        int parts = Math.Min(threads, chunks);
        // The caller's scratch holds x and one axpy strip per part, so workers need none of their own.
        long stripFloats = dot ? 0 : (long)rows * chunk;
        float* x = Scratch((long)rows * k + parts * stripFloats);
        // x[r, p] = op(A)[r, p] (few rows) or op(B)[p, r] (few columns).
        fixed (float* a = g.A, b = g.B)
        {
            if (fewRows) Gather(a + g.AOff, g.TransA ? 1 : g.Lda, g.TransA ? g.Lda : 1, rows, k, x);
            else Gather(b + g.BOff, g.TransB ? g.Ldb : 1, g.TransB ? 1 : g.Ldb, rows, k, x);
        }
        // The large operand is op(B) when rows are few, op(A) when columns are; "dot" when its K runs along its rows.
        // Per-chunk work is independent and summed in the same order whichever thread runs it.
        var ops = g;
        nint xs = (nint)x;
        ForParts(parts, threads, p =>
        {
            int lo = (int)((long)chunks * p / parts) * chunk;
            int hi = Math.Min((int)((long)chunks * (p + 1) / parts) * chunk, items);
            if (hi <= lo) return;
            var xr = new ReadOnlySpan<float>((float*)xs, rows * k);
            if (dot) SmallDot(ops, fewRows, xr, rows, lo, hi);
            else
            {
                var strip = new Span<float>((float*)xs + (long)rows * k + p * stripFloats, (int)stripFloats);
                SmallAxpy(ops, fewRows, xr, rows, chunk, strip, lo, hi);
            }
        });
    }

    /// <summary>x[r, p] = src[r·rowStride + p·colStride] for r &lt; rows, p &lt; k.</summary>
    private static void Gather(float* src, nint rowStride, nint colStride, int rows, int k, float* x)
    {
        for (int r = 0; r < rows; r++)
        {
            if (colStride == 1) new ReadOnlySpan<float>(src + r * rowStride, k).CopyTo(new Span<float>(x + (long)r * k, k));
            else for (int p = 0; p < k; p++) x[(long)r * k + p] = src[r * rowStride + p * colStride];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallDot(in GemmOperands g, bool fewRows, ReadOnlySpan<float> x, int rows, int lo, int hi)
    {
        int k = g.K;
        float[] y = fewRows ? g.B : g.A;
        int yOff = fewRows ? g.BOff : g.AOff, ldy = fewRows ? g.Ldb : g.Lda;
        for (int j = lo; j < hi; j++)
        {
            // One row of the large operand, read from memory once and from L1 for the other rows of x.
            var yRow = new ReadOnlySpan<float>(y, yOff + j * ldy, k);
            for (int r = 0; r < rows; r++)
            {
                float v = TensorPrimitives.Dot(x.Slice(r * k, k), yRow) * g.Alpha;
                ref float dst = ref fewRows ? ref g.C[g.COff + r * g.Ldc + j] : ref g.C[g.COff + j * g.Ldc + r];
                dst = g.Beta == 0f ? v : v + dst * g.Beta;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallAxpy(in GemmOperands g, bool fewRows, ReadOnlySpan<float> x, int rows, int width,
                                  Span<float> strip, int lo, int hi)
    {
        int k = g.K;
        float[] y = fewRows ? g.B : g.A;
        int yOff = fewRows ? g.BOff : g.AOff, ldy = fewRows ? g.Ldb : g.Lda;
        for (int j0 = lo; j0 < hi; j0 += width)
        {
            int w = Math.Min(width, hi - j0);
            strip.Clear();
            for (int p = 0; p < k; p++)
            {
                var ySeg = new ReadOnlySpan<float>(y, yOff + p * ldy + j0, w);
                for (int r = 0; r < rows; r++)
                {
                    var acc = strip.Slice(r * width, w);
                    TensorPrimitives.MultiplyAdd(ySeg, x[r * k + p], acc, acc);
                }
            }
            for (int r = 0; r < rows; r++)
            {
                var acc = strip.Slice(r * width, w);
                if (fewRows)
                {
                    var dst = g.C.AsSpan(g.COff + r * g.Ldc + j0, w);
                    TensorPrimitives.Multiply(acc, g.Alpha, acc);
                    if (g.Beta == 0f) acc.CopyTo(dst);
                    else TensorPrimitives.MultiplyAdd(dst, g.Beta, acc, dst);
                }
                else
                {
                    for (int i = 0; i < w; i++)
                    {
                        ref float dst = ref g.C[g.COff + (j0 + i) * g.Ldc + r];
                        float v = acc[i] * g.Alpha;
                        dst = g.Beta == 0f ? v : v + dst * g.Beta;
                    }
                }
            }
        }
    }
}
