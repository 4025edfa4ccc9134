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
