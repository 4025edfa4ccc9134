using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary><see cref="Mma.MmaBf16"/>'s warp-shuffle emulation (what ILGPU's CPU accelerator runs in place of
/// mma.sync) against a float64 matrix product, through <see cref="MmaTileKernels.Product"/>: one warp, A [16, 16] and
/// B [16, 8] in bf16, C [16, 8] in fp32. Small integers make every product and sum exact in fp32, so any fragment
/// mix-up shows as an exact mismatch; random normals are held to the fp32 summation bound.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class MmaEmulationTests(IlgpuCpuFixture fx)
{
    [Fact]
    public void Emulated_mma_is_exact_on_small_integers()
    {
        // Entries −4..4 (exact in bf16), |C| ≤ 16·16 + 8: far below 2^24, so fp32 accumulation is exact in any order.
        var rng = new Random(12);
        var a = Fill(16 * 16, () => rng.Next(-4, 5));
        var b = Fill(16 * 8, () => rng.Next(-4, 5));
        var c = Fill(16 * 8, () => rng.Next(-8, 9));
        var (got, want, _) = Run(a, b, c);
        for (int i = 0; i < want.Length; i++)
            Assert.True(got[i] == want[i], $"C[{i / 8}, {i % 8}]: {got[i]} against {want[i]}");
    }

    [Fact]
    public void Emulated_mma_matches_float64_on_random_bf16_tiles()
    {
        // Each bf16·bf16 product is exact in fp32 (8-bit significands give 16 bits), so the only error is rounding in
        // the 16 additions onto C: at most 17·2⁻²⁴·(|c| + Σ|a·b|) (the γ_n bound of recursive summation, n = 17).
        var rng = new Rng(42);
        var a = Normal(rng, 16 * 16);
        var b = Normal(rng, 16 * 8);
        var c = Normal(rng, 16 * 8);
        var (got, want, magnitude) = Run(a, b, c);
        for (int i = 0; i < want.Length; i++)
        {
            double bound = 17 * Math.Pow(2, -24) * magnitude[i];
            Assert.True(Math.Abs(got[i] - want[i]) <= bound, $"C[{i / 8}, {i % 8}]: {got[i]:R} against {want[i]:R} (bound {bound:E2})");
        }
    }

    /// <summary>Runs the tile kernel and returns its C, the float64 reference and each entry's Σ|terms|.</summary>
    private (float[] Got, double[] Want, double[] Magnitude) Run(float[] a, float[] b, float[] c)
    {
        var aWords = new uint[16 * 8];
        for (int r = 0; r < 16; r++)
            for (int k = 0; k < 16; k += 2) aWords[r * 8 + k / 2] = Pack(a[r * 16 + k], a[r * 16 + k + 1]);
        var bWords = new uint[8 * 8]; // Bᵀ: row n holds column n of B
        for (int n = 0; n < 8; n++)
            for (int k = 0; k < 16; k += 2) bWords[n * 8 + k / 2] = Pack(b[k * 8 + n], b[(k + 1) * 8 + n]);
        var want = new double[16 * 8];
        var magnitude = new double[16 * 8];
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
                magnitude[r * 8 + n] = mag;
            }

        var acc = fx.Device.Accelerator;
        var kernel = acc.LoadStreamKernel<ArrayView<uint>, ArrayView<uint>, ArrayView<float>>(MmaTileKernels.Product);
        using var da = acc.Allocate1D(aWords);
        using var db = acc.Allocate1D(bWords);
        using var dc = acc.Allocate1D(c);
        kernel(new KernelConfig(1, 32), da.View, db.View, dc.View);
        acc.Synchronize();
        return (dc.GetAsArray1D(), want, magnitude);
    }

    private static uint Pack(float lo, float hi) => FloatBits.FloatToBF16(lo) | ((uint)FloatBits.FloatToBF16(hi) << 16);

    private static float[] Fill(int n, Func<int> next) => Enumerable.Range(0, n).Select(_ => (float)next()).ToArray();

    /// <summary>Standard normals rounded to bf16 (so the reference sees exactly what the kernel multiplies).</summary>
    private static float[] Normal(Rng rng, int n)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, 1.0);
        return v.Select(x => FloatBits.BF16ToFloat(FloatBits.FloatToBF16(x))).ToArray();
    }
}
