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
/// mma.sync, and issues it inside the kernel's loops (a label before it, a branch back to that label after it).</summary>
public sealed class MmaAttentionPtxTests
{
    private const string MmaSync = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";

    [Theory]
    [InlineData(typeof(HeadDim64), 2 + 8)]   // S: 2 per k chunk of 16 (the chunk loop); P·V: one per 8 output columns
    [InlineData(typeof(HeadDim128), 2 + 16)]
    public void Mma_attention_forward_emits_mma_sync_inside_its_loops(Type tile, int atLeast)
    {
        var ptx = Compile(typeof(MmaAttentionKernels).GetMethod(nameof(MmaAttentionKernels.Forward))!.MakeGenericMethod(typeof(BF16Elem), tile));
        var sites = Regex.Matches(ptx, Regex.Escape(MmaSync)).Select(m => m.Index).ToList();
        Assert.True(sites.Count >= atLeast, $"{sites.Count} mma.sync in the PTX, expected at least {atLeast}");
        // Every mma.sync lies inside some loop: a label defined before it that a later branch jumps back to.
        var loops = Regex.Matches(ptx, @"^\s*(\$?\w+):", RegexOptions.Multiline)
            .Select(l => (Start: l.Index, End: LastBranchTo(ptx, l.Groups[1].Value)))
            .Where(l => l.End > l.Start).ToList();
        Assert.NotEmpty(loops);
        foreach (int site in sites)
            Assert.True(loops.Any(l => l.Start < site && site < l.End), $"mma.sync at {site} is outside every loop");
        Assert.DoesNotContain("ld.shared.f32", ptx); // shared tiles are read as bf16 words, never as floats
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

    /// <summary>Position of the last branch to <paramref name="label"/>, or −1.</summary>
    private static int LastBranchTo(string ptx, string label)
    {
        var m = Regex.Matches(ptx, @"\bbra(\.uni)?\s+" + Regex.Escape(label) + @"\s*;");
        return m.Count == 0 ? -1 : m[^1].Index;
    }
}
