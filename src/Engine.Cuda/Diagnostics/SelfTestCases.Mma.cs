using ILGPU;
using ILGPU.Runtime;
using Engine.Backends.Cuda;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    /// <summary>One warp-wide m16n8k16 bf16 product (<see cref="MmaTileKernels.Product"/>: mma.sync on a GPU, its
    /// warp-shuffle emulation on the CPU accelerator) against float64: small integers must come out exact (any fragment
    /// mix-up shows), random normals within 17·2⁻²³ of Σ|terms| per entry (16 fp32 additions onto C; twice the
    /// round-to-nearest bound, since tensor cores may truncate when they align and add).</summary>
    private static void MmaTile(SelfTestHarness h, IlgpuBackend gpu)
    {
        var rng = new Random(12);
        var (got, want, _) = MmaProduct(gpu.Device.Accelerator, Tile(256, () => rng.Next(-4, 5)), Tile(128, () => rng.Next(-4, 5)), Tile(128, () => rng.Next(-8, 9)));
        h.CheckExact("mma m16n8k16 bf16 (integers)", got, want.Select(x => (float)x).ToArray(), "16×16·16×8", "bf16");

        var normal = new Rng(42);
        float[] Normal(int n) { var v = new float[n]; normal.FillNormal(v, 0, 1.0); return SelfTestHarness.RoundTo(v, DType.BF16); }
        var (g2, w2, mag) = MmaProduct(gpu.Device.Accelerator, Normal(256), Normal(128), Normal(128));
        double worst = 0;
        for (int i = 0; i < w2.Length; i++) worst = Math.Max(worst, Math.Abs(g2[i] - w2[i]) / mag[i]);
        h.Record("mma m16n8k16 bf16 (normals)", "16×16·16×8", "bf16", worst, 17 * Math.Pow(2, -23), null);
    }

    /// <summary>ldmatrix m8n8.x4 and .x4.trans (<see cref="MmaTileKernels.LoadMatrix"/>: the instruction on a GPU, its
    /// emulation on the CPU accelerator) against the PTX ISA's layout: lanes 8m..8m+7 address the rows of matrix m, and
    /// lane i receives row i/4's elements 2(i%4), 2(i%4)+1 (.trans: column i/4's elements of rows 2(i%4), 2(i%4)+1). The
    /// table's 16-bit values are all distinct and the lanes address shuffled rows, so every mix-up shows; on a GPU a
    /// failure here also means the shared-memory address the Mma kernels form (Ldmatrix) is wrong.</summary>
    private static void LdmatrixTile(SelfTestHarness h, IlgpuBackend gpu)
    {
        var halves = Enumerable.Range(0, 512).Select(i => (ushort)(i * 97 + 13)).ToArray();
        var rng = new Random(5);
        var rows = Enumerable.Range(0, 64).OrderBy(_ => rng.Next()).Take(32).ToArray();
        foreach (bool transpose in new[] { false, true })
        {
            var got = LoadMatrix(gpu.Device.Accelerator, halves, rows, transpose);
            var gotHalves = new float[256];
            var wantHalves = new float[256];
            for (int lane = 0; lane < 32; lane++)
                for (int m = 0; m < 4; m++)
                {
                    int g = lane >> 2, t = lane & 3, at = 2 * (4 * lane + m);
                    gotHalves[at] = (ushort)got[4 * lane + m];
                    gotHalves[at + 1] = (ushort)(got[4 * lane + m] >> 16);
                    wantHalves[at] = transpose ? halves[8 * rows[8 * m + 2 * t] + g] : halves[8 * rows[8 * m + g] + 2 * t];
                    wantHalves[at + 1] = transpose ? halves[8 * rows[8 * m + 2 * t + 1] + g] : halves[8 * rows[8 * m + g] + 2 * t + 1];
                }
            h.CheckExact($"ldmatrix m8n8.x4{(transpose ? ".trans" : "")}", gotHalves, wantHalves, "4×8×8", "b16");
        }
    }

    /// <summary>Runs <see cref="MmaTileKernels.LoadMatrix"/> on a table of 8-element b16 rows (<paramref name="halves"/>),
    /// lane i addressing row <paramref name="rows"/>[i]; returns each lane's 4 registers (the self-test and the
    /// CPU-accelerator tests share it).</summary>
    internal static uint[] LoadMatrix(Accelerator acc, ushort[] halves, int[] rows, bool transpose)
    {
        var words = new uint[halves.Length / 2];
        for (int i = 0; i < words.Length; i++) words[i] = halves[2 * i] | ((uint)halves[2 * i + 1] << 16);
        acc.Bind();
        var kernel = acc.LoadStreamKernel<ArrayView<uint>, ArrayView<int>, ArrayView<uint>, int>(MmaTileKernels.LoadMatrix);
        using var table = acc.Allocate1D(words);
        using var addresses = acc.Allocate1D(rows.Select(r => 4 * r).ToArray());
        using var result = acc.Allocate1D<uint>(128);
        kernel(new KernelConfig(1, 32, SharedMemoryConfig.RequestDynamic<uint>(words.Length)), table.View, addresses.View, result.View, transpose ? 1 : 0);
        acc.Synchronize();
        return result.GetAsArray1D();
    }

    private static float[] Tile(int n, Func<int> next) => Enumerable.Range(0, n).Select(_ => (float)next()).ToArray();

    /// <summary>C + A·B on <paramref name="acc"/> for A [16, 16], B [16, 8] (bf16 values) and C [16, 8]; with the float64
    /// reference and each entry's |c| + Σ|a·b| (the self-test and the CPU-accelerator tests share it).</summary>
    internal static (float[] Got, double[] Want, double[] Magnitude) MmaProduct(Accelerator acc, float[] a, float[] b, float[] c)
    {
        static uint Pack(float lo, float hi) => FloatBits.FloatToBF16(lo) | ((uint)FloatBits.FloatToBF16(hi) << 16);
        var aWords = new uint[128];
        var bWords = new uint[64]; // Bᵀ: row n holds column n of B
        for (int r = 0; r < 16; r++)
            for (int k = 0; k < 16; k += 2) aWords[r * 8 + k / 2] = Pack(a[r * 16 + k], a[r * 16 + k + 1]);
        for (int n = 0; n < 8; n++)
            for (int k = 0; k < 16; k += 2) bWords[n * 8 + k / 2] = Pack(b[k * 8 + n], b[(k + 1) * 8 + n]);
        var want = new double[128];
        var magnitude = new double[128];
        for (int r = 0; r < 16; r++)
            for (int n = 0; n < 8; n++)
            {
                double sum = c[r * 8 + n], mag = Math.Abs(sum);
                for (int k = 0; k < 16; k++)
                {
                    double term = (double)a[r * 16 + k] * b[k * 8 + n];
                    sum += term;
                    mag += Math.Abs(term);
                }
                want[r * 8 + n] = sum;
                magnitude[r * 8 + n] = Math.Max(mag, 1e-30);
            }

        acc.Bind();
        var kernel = acc.LoadStreamKernel<ArrayView<uint>, ArrayView<uint>, ArrayView<float>>(MmaTileKernels.Product);
        using var da = acc.Allocate1D(aWords);
        using var db = acc.Allocate1D(bWords);
        using var dc = acc.Allocate1D(c);
        kernel(new KernelConfig(1, 32), da.View, db.View, dc.View);
        acc.Synchronize();
        return (dc.GetAsArray1D(), want, magnitude);
    }
}
