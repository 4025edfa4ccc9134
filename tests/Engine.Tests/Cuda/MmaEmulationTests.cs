using ILGPU;
using ILGPU.Runtime;
using Engine.Diagnostics;
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

    /// <summary>Runs the tile kernel and returns its C, the float64 reference and each entry's |c| + Σ|terms| (the
    /// self-test's own <see cref="SelfTestCases.MmaProduct"/>).</summary>
    private (float[] Got, double[] Want, double[] Magnitude) Run(float[] a, float[] b, float[] c) =>
        SelfTestCases.MmaProduct(fx.Device.Accelerator, a, b, c);


    private static float[] Fill(int n, Func<int> next) => Enumerable.Range(0, n).Select(_ => (float)next()).ToArray();

    /// <summary>Standard normals rounded to bf16 (so the reference sees exactly what the kernel multiplies).</summary>
    private static float[] Normal(Rng rng, int n)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, 1.0);
        return v.Select(x => FloatBits.BF16ToFloat(FloatBits.FloatToBF16(x))).ToArray();
    }
}
