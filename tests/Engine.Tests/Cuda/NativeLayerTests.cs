using System.Runtime.CompilerServices;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda.Native;
using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Diagnostics;

namespace Engine.Tests.Cuda;

/// <summary>The native layer on a machine that may have no CUDA at all: missing libraries and missing GPUs must be
/// one clear error line, never a DllNotFoundException or a silent CPU fallback.</summary>
public sealed class NativeLayerTests
{
    [Fact]
    public void Missing_library_is_a_cuda_exception_listing_every_name_tried()
    {
        var e = Assert.Throws<CudaException>(() => NativeLibraries.Load("cuBLAS", new[] { "libengine-missing.so.13", "libengine-missing.so.12" }));
        Assert.Contains("cuBLAS could not be loaded", e.Message);
        Assert.Contains("libengine-missing.so.13, libengine-missing.so.12", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.IsAssignableFrom<EngineException>(e);
    }

    [Fact]
    public void Cublas_and_cublaslt_fail_clearly_where_they_are_absent()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.CublasNames, out _, out _)) Assert.Skip("cuBLAS is installed here");
        var e = Assert.Throws<CudaException>(() => Cublas.Create());
        Assert.Contains(NativeLibraries.CublasNames[0], e.Message);
        if (NativeLibraries.TryLoad(NativeLibraries.CublasLtNames, out _, out _)) return;
        var lt = Assert.Throws<CudaException>(() => CublasLtApi.Load());
        Assert.Contains(NativeLibraries.CublasLtNames[0], lt.Message);
    }

    [Fact]
    public void Status_errors_name_the_call_and_the_status()
    {
        var e = Assert.Throws<CudaException>(() => CublasStatus.Check("cublasGemmEx", 7));
        Assert.Equal("cublasGemmEx failed: CUBLAS_STATUS_INVALID_VALUE (7)", e.Message);
        Assert.Equal("cublasGemmEx", e.Call);
        CublasStatus.Check("cublasGemmEx", 0);
        Assert.Equal("CUBLAS_STATUS_NOT_SUPPORTED", CublasStatus.Name(15));
    }

    [Theory]
    [InlineData(0x7f0000000000L, 256u)]
    [InlineData(0x7f0000000100L, 256u)]
    [InlineData(0x7f0000000080L, 128u)]
    [InlineData(0x7f0000000002L, 2u)]
    [InlineData(0x7f0000000014L, 4u)]
    public void Lt_alignment_is_the_largest_power_of_two_up_to_256(long address, uint expected) =>
        Assert.Equal(expected, CublasLt.AlignmentOf((IntPtr)address));

    [Fact]
    public void Heuristic_result_has_the_size_cublaslt_writes()
    {
        Assert.Equal(96, Unsafe.SizeOf<CublasLtHeuristicResult>());
    }

    [Fact]
    public void Cuda_on_a_machine_without_a_gpu_is_one_engine_exception_line()
    {
        var why = CudaProbe.WhyUnusable();
        if (why is null) Assert.Skip("this machine has a usable CUDA GPU");
        Engine.Cuda.CudaSupport.Register();
        var e = Assert.Throws<EngineException>(() => Devices.Create("cuda"));
        Assert.StartsWith("--device cuda: no usable CUDA GPU found (", e.Message);
        Assert.EndsWith(")", e.Message);
        Assert.Contains(why, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<EngineException>(() => Devices.Create("cuda:1"));
        Assert.Same(CpuBackend.Instance, Devices.Create("auto"));
        var log = new StringWriter();
        var st = Assert.Throws<EngineException>(() => BackendSelfTest.RunCuda(0, log, SelfTestSize.Tiny));
        Assert.StartsWith("--device cuda:0: no usable CUDA GPU found (", st.Message);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    public void A_build_without_the_cuda_assembly_says_so(string spec)
    {
        var e = Assert.Throws<EngineException>(() => Devices.Create(spec, Array.Empty<IDeviceProvider>()));
        Assert.Contains("no CUDA backend", e.Message);
        Assert.Same(CpuBackend.Instance, Devices.Create("auto", Array.Empty<IDeviceProvider>()));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void Cpu_spec_gives_the_cpu_backend(string spec) => Assert.Same(CpuBackend.Instance, Devices.Create(spec));

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void Unknown_device_spec_is_rejected(string spec)
    {
        var e = Assert.Throws<EngineException>(() => Devices.Create(spec));
        Assert.Contains("expected cpu, cuda, cuda:N or auto", e.Message);
    }
}
