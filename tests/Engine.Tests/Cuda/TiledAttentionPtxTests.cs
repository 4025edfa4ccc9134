using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Engine.Backends.Cuda;
using Engine.Kernels;

namespace Engine.Tests.Cuda;

/// <summary>What makes the tiled attention kernels fast has to survive ILGPU's code generation, and a GPU is needed to
/// measure speed, so these check the PTX for SM_90 instead: register tiles stay in registers (no .local memory: ILGPU
/// spills local arrays and un-unrolled loops there), shared-memory operands are read 16 bytes at a time, and the
/// shared memory per group fits the H200 (227 KB opt-in; the forward at ≤ 113 KB so two groups share an SM).</summary>
public sealed class TiledAttentionPtxTests
{
    private const int H200SharedPerGroup = 227 * 1024;

    [Theory]
    [InlineData(nameof(TiledAttentionKernels.Forward), 20)]             // S: 8 per 4 columns; P·V: 4 + 4·2 per 4 keys
    [InlineData(nameof(TiledAttentionBackwardKernels.QueryGrad), 30)]    // S, dP: 8 each; dS·K: 12; lse, delta: 2
    [InlineData(nameof(TiledAttentionBackwardKernels.KeyValueGrad), 24)] // S, dP: 8 each; P, dS: 2; dO, Q: 4; lse, delta: 2
    public void Tiled_kernels_keep_tiles_in_registers_and_read_shared_memory_as_float4(string name, int vectorLoads)
    {
        var type = name == nameof(TiledAttentionKernels.Forward) ? typeof(TiledAttentionKernels) : typeof(TiledAttentionBackwardKernels);
        var kernel = type.GetMethod(name)!.MakeGenericMethod(typeof(BF16Elem), typeof(BF16Elem), typeof(HeadDim128));
        using var context = Context.Create(b => IlgpuDevice.Configure(b.Cuda()));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null!);
        var ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        Assert.DoesNotContain(".local", ptx);
        Assert.DoesNotContain("call", ptx);
        Assert.Equal(vectorLoads, Regex.Matches(ptx, @"ld\.shared\.v4\.f32").Count);
        Assert.DoesNotContain("ld.shared.f32", ptx); // no Float4 read split into scalars (ILGPU does that when it cannot prove alignment)
        Assert.Matches(@"\.extern \.shared \.align 16 \.b8 __dyn_shared_alloca\[\]", ptx);
        Assert.DoesNotMatch(@"\.shared \.align \d+ \.b8 __shared_alloca", ptx); // all tiles live in dynamic shared memory
    }

    [Fact]
    public void Shared_memory_per_group_fits_the_h200()
    {
        Assert.Equal(64 * 132 * 2 + 64 * 68, AttentionTile.ForwardFloats(128));
        Assert.True(4 * AttentionTile.ForwardFloats(128) <= H200SharedPerGroup / 2, "two forward groups per SM");
        Assert.True(4 * AttentionTile.QueryGradFloats(128) <= H200SharedPerGroup);
        Assert.True(4 * AttentionTile.KeyValueGradFloats(128) <= H200SharedPerGroup);
        // Strides keep 16-byte alignment and an odd number of Float4s (8 consecutive rows on distinct banks).
        foreach (int dh in new[] { 1, 8, 16, 18, 64, 72, 100, 128 })
        {
            int stride = AttentionTile.Stride(dh);
            Assert.True(stride % 4 == 0 && stride / 4 % 2 == 1 && stride >= (dh + 3) / 4 * 4, $"Dh {dh}: stride {stride}");
            // The launch requests whole Float4s.
            Assert.Equal(0, AttentionTile.ForwardFloats(dh) % 4);
            Assert.Equal(0, AttentionTile.QueryGradFloats(dh) % 4);
            Assert.Equal(0, AttentionTile.KeyValueGradFloats(dh) % 4);
        }
    }

    [Fact]
    public void No_kernel_declares_more_than_48_KB_of_static_shared_memory()
    {
        using var context = Context.Create(b => IlgpuDevice.Configure(b.Cuda()));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null!);
        long largest = 0;
        foreach (var kernel in PtxCompileTests.KernelMethods())
        {
            // Static sizes do not depend on the element types: one instantiation per kernel, the widest tile.
            var method = kernel.IsGenericMethodDefinition ? kernel.MakeGenericMethod(kernel.GetGenericArguments().Select(Widest).ToArray()) : kernel;
            var ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), new KernelSpecialization())).PTXAssembly;
            long bytes = Regex.Matches(ptx, @"\.shared \.align \d+ \.b8 \w+\[(\d+)\]").Sum(m => long.Parse(m.Groups[1].Value));
            Assert.True(bytes <= 48 * 1024, $"{kernel.DeclaringType!.Name}.{kernel.Name}: {bytes} B of static shared memory");
            largest = Math.Max(largest, bytes);
        }
        Assert.Equal(4 * (2 * AttentionKernels.MaxHeadDim + 2 * AttentionKernels.MaxGroupSize), largest); // the simple dK/dV kernel: the pattern matches
    }

    private static Type Widest(Type parameter)
    {
        var iface = parameter.GetGenericParameterConstraints().Single(c => c.IsInterface);
        if (iface == typeof(IElement)) return typeof(F32Elem);
        if (iface == typeof(IHeadDimTile)) return typeof(HeadDim128);
        return typeof(IElement).Assembly.GetTypes().First(t => t.IsValueType && iface.IsAssignableFrom(t));
    }
}
