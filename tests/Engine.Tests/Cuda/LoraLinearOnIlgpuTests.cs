using Engine.Backends.Cpu;
using Engine.Tests.Autograd;

namespace Engine.Tests.Cuda;

/// <summary>The fused LoRA op on the ILGPU backend (ILGPU's CPU accelerator: its GEMM kernel with beta = 1 into the
/// base's output, the dropout kernel's accumulate mode) against the composed ops on the same backend, and against the
/// CPU backend. Tolerances, relative to each tensor's largest magnitude:
/// f32 activations: 1e-5, the fp32 reassociation of the CPU tests (LoraLinearOpTests).
/// bf16 activations: 2e-2. The composed path rounds to bf16 (u = 2⁻⁹ ≈ 2e-3) at several points the fused op does not:
/// h·Bᵀ, then s·(h·Bᵀ), then y + s·h·Bᵀ (fused: one rounding of the GEMM's fp32 result); s·g before g·B and ·hᵀ;
/// dA and dB as bf16 before they are added to the fp32 gradients (fused: the GEMM writes fp32 with beta = 1); the
/// adapter's dx before it is added to the base's. Each is one bf16 rounding (at most 2⁻⁹ ≈ 2e-3 of an O(max) value)
/// and a chain carries up to four of them: ≤ 8e-3 (seen: 1.6e-3 to 7.4e-3, y the largest), so 2e-2 leaves a margin
/// of 2.5 while a wrong term (missing mask, wrong scale, a lost base gradient) is an O(1) error. f32 on the CPU
/// accelerator came out bit-equal to the composed path and within 3e-7 of the CPU backend.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class LoraLinearOnIlgpuTests(IlgpuCpuFixture fx, ITestOutputHelper output)
{
    [Theory]
    [InlineData("f32", "dense", 0f, 1e-5)]
    [InlineData("f32", "dense", 0.25f, 1e-5)]
    [InlineData("f32", "nf4", 0.25f, 1e-5)]
    [InlineData("bf16", "dense", 0f, 2e-2)]
    [InlineData("bf16", "dense", 0.25f, 2e-2)]
    [InlineData("bf16", "nf4", 0f, 2e-2)]
    [InlineData("bf16", "nf4", 0.25f, 2e-2)]
    public void Fused_op_matches_the_composed_path(string activation, string baseKind, float dropout, double tol)
    {
        using var c = new LoraCase(fx.Backend(activation), baseKind, dropout);
        output.WriteLine(LoraCase.AssertClose(c.Run(fused: true), c.Run(fused: false), tol));
    }

    [Fact]
    public void A_trainable_fp32_base_under_bf16_activations_gets_its_gradient_through_the_cast()
    {
        using var c = new LoraCase(fx.BF16, "dense", 0.25f, trainableBase: true);
        output.WriteLine(LoraCase.AssertClose(c.Run(fused: true), c.Run(fused: false), 2e-2));
    }

    [Theory]
    [InlineData("dense", 0.25f)]
    [InlineData("nf4", 0.25f)]
    public void Fused_op_in_f32_matches_the_cpu_backend(string baseKind, float dropout)
    {
        using var g = new LoraCase(fx.F32, baseKind, dropout);
        using var c = new LoraCase(CpuBackend.Instance, baseKind, dropout);
        output.WriteLine(LoraCase.AssertClose(g.Run(fused: true), c.Run(fused: true), 1e-5));
    }
}
