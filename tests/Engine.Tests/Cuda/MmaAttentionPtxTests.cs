using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Engine.Backends.Cuda;
using Engine.Kernels;

namespace Engine.Tests.Cuda;

/// <summary>The tensor-core kernels compiled for the H200 (SM_90, ISA 8.8, the engine's O2 context) without a GPU: the
/// CPU accelerator runs <see cref="Mma"/>'s emulation, so only the PTX shows that the GPU build really issues
/// mma.sync (and ldmatrix), and issues them inside the kernels' loops (a label before, a branch back to it after).</summary>
public sealed class MmaAttentionPtxTests
{
    private const string MmaSync = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";

    [Theory]
    [InlineData(typeof(HeadDim64), 2 + 8)]   // S: 2 per k chunk of 16 (the chunk loop); P·V: one per 8 output columns
    [InlineData(typeof(HeadDim128), 2 + 16)]
    public void Mma_attention_forward_emits_mma_sync_inside_its_loops(Type tile, int atLeast)
    {
        var ptx = Compile(typeof(MmaAttentionKernels).GetMethod(nameof(MmaAttentionKernels.Forward))!.MakeGenericMethod(typeof(BF16Elem), tile));
        AssertInsideLoops(ptx, MmaSync, atLeast);
        AssertInsideLoops(ptx, "ldmatrix.sync.aligned.m8n8.x4.shared.b16", 2);       // Q and K fragments
        AssertInsideLoops(ptx, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", 4); // V as B of P·V
        Assert.DoesNotContain("ld.shared.f32", ptx); // shared tiles are read as bf16 words, never as floats
        AssertNoLocalAggregates(ptx);
    }

    [Theory]
    [InlineData(nameof(MmaAttentionBackwardKernels.KeyValueGrad), typeof(HeadDim64), 4 + 16)]   // Sᵀ, dPᵀ: 2 each per k chunk; dV, dK: 8 each
    [InlineData(nameof(MmaAttentionBackwardKernels.KeyValueGrad), typeof(HeadDim128), 4 + 32)]
    [InlineData(nameof(MmaAttentionBackwardKernels.QueryGrad), typeof(HeadDim64), 4 + 8)]       // S, dP; dQ
    [InlineData(nameof(MmaAttentionBackwardKernels.QueryGrad), typeof(HeadDim128), 4 + 16)]
    public void Mma_attention_backward_emits_mma_sync_and_ldmatrix_inside_its_loops(string kernel, Type tile, int atLeast)
    {
        var ptx = Compile(typeof(MmaAttentionBackwardKernels).GetMethod(kernel)!.MakeGenericMethod(typeof(BF16Elem), tile));
        AssertInsideLoops(ptx, MmaSync, atLeast);
        AssertInsideLoops(ptx, "ldmatrix.sync.aligned.m8n8.x4.shared.b16", 2);       // Sᵀ/S and dPᵀ/dP operands
        AssertInsideLoops(ptx, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", 4); // B of the dV, dK, dQ products
        Assert.Matches(@"\.shared\s+\.align\s+\d+\s+\.b8\s+__dyn_shared_alloca\[", ptx); // the symbol Ldmatrix addresses
        AssertNoLocalAggregates(ptx);
    }

    [Fact]
    public void Mma_tile_kernel_emits_one_mma_sync()
    {
        var ptx = Compile(typeof(MmaTileKernels).GetMethod(nameof(MmaTileKernels.Product))!);
        Assert.Single(Regex.Matches(ptx, Regex.Escape(MmaSync)));
    }

    private static string Compile(System.Reflection.MethodInfo kernel)
    {
        using var context = Context.Create(b => IlgpuDevice.Configure(b.Cuda()));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null!);
        return ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
    }

    /// <summary>At least <paramref name="atLeast"/> copies of <paramref name="instruction"/>, each inside some loop: a
    /// label defined before it that a later branch jumps back to.</summary>
    private static void AssertInsideLoops(string ptx, string instruction, int atLeast)
    {
        var sites = Regex.Matches(ptx, Regex.Escape(instruction) + @"\s").Select(m => m.Index).ToList();
        Assert.True(sites.Count >= atLeast, $"{sites.Count} {instruction} in the PTX, expected at least {atLeast}");
        var loops = Regex.Matches(ptx, @"^\s*(\$?\w+):", RegexOptions.Multiline)
            .Select(l => (Start: l.Index, End: LastBranchTo(ptx, l.Groups[1].Value)))
            .Where(l => l.End > l.Start).ToList();
        Assert.NotEmpty(loops);
        foreach (int site in sites)
            Assert.True(loops.Any(l => l.Start < site && site < l.End), $"{instruction} at {site} is outside every loop");
    }

    /// <summary>Local memory holds nothing but single 4-byte slots. ILGPU passes every inline-asm operand through its
    /// own 4-byte .local depot (hundreds of ld/st.local here: not spills, and folded into registers by ptxas at O2), so
    /// a bare "no ld.local" cannot hold for any CudaAsm kernel; what can be checked without ptxas is that no accumulator
    /// tile (an <see cref="MmaOutTile"/> is 128 bytes) or other struct or array was put in local memory by ILGPU, which
    /// would show as a larger depot. Register spills by ptxas itself only show in ptxas -v on a GPU machine.</summary>
    private static void AssertNoLocalAggregates(string ptx)
    {
        var depots = Regex.Matches(ptx, @"\.local\s+\.align\s+\d+\s+\.b8\s+(\w+)\[(\d+)\]").ToList();
        Assert.NotEmpty(depots);
        foreach (var d in depots)
            Assert.True(int.Parse(d.Groups[2].Value) <= 4, $"local depot {d.Groups[1].Value} of {d.Groups[2].Value} bytes: a struct or array in local memory");
        Assert.DoesNotMatch(@"\.local\s+\.align\s+\d+\s+\.b8\s+\w+\[\]", ptx);
    }

    /// <summary>Position of the last branch to <paramref name="label"/>, or −1.</summary>
    private static int LastBranchTo(string ptx, string label)
    {
        var m = Regex.Matches(ptx, @"\bbra(\.uni)?\s+" + Regex.Escape(label) + @"\s*;");
        return m.Count == 0 ? -1 : m[^1].Index;
    }
}
