using System.Runtime.CompilerServices;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda.Nccl;
using Engine.Backends.Cuda.Native;
using Engine.Distributed;

namespace Engine.Tests.Cuda;

/// <summary>The NCCL layer on a machine without a GPU (and usually without NCCL): a missing or misnamed library is one
/// clear error naming ENGINE_NCCL_LIBRARY, and the ABI constants match nccl.h. The collectives themselves need a GPU;
/// NcclCommunicator's doc comment lists what the first GPU run must check.</summary>
public sealed class NcclTests
{
    private static readonly DistributedEnvironment Single = new(0, 1, 0, DistributedLauncher.Torchrun);

    [Fact]
    public void A_missing_override_library_is_one_error_naming_the_variable_and_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"engine-no-such-dir-{Guid.NewGuid():N}", "libnccl.so.2");
        using var variable = new NcclEnvironment(path);
        var e = Assert.Throws<CudaException>(() => NcclNative.Load());
        Assert.StartsWith($"NCCL could not be loaded from ENGINE_NCCL_LIBRARY={path} (", e.Message);
        Assert.EndsWith("): point ENGINE_NCCL_LIBRARY at libnccl.so.2 or unset it to search the usual places", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.IsAssignableFrom<EngineException>(e);
    }

    [Fact]
    public void Making_the_communicator_without_nccl_fails_on_the_library_before_anything_else()
    {
        var path = Path.Combine(Path.GetTempPath(), $"engine-no-such-dir-{Guid.NewGuid():N}", "libnccl.so.2");
        using var variable = new NcclEnvironment(path);
        Engine.Cuda.CudaSupport.Register();
        // The CPU backend is not a CUDA device either, but the missing library is the first thing reported.
        var e = Assert.Throws<CudaException>(() => new NcclProvider().Create(Single, CpuBackend.Instance, TimeSpan.FromSeconds(5)));
        Assert.Contains($"ENGINE_NCCL_LIBRARY={path}", e.Message);
    }

    [Fact]
    public void A_library_that_is_not_nccl_is_named_with_the_entry_point_it_lacks()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("uses glibc's libc.so.6 as the library that is not NCCL");
        using var variable = new NcclEnvironment("libc.so.6");
        var e = Assert.Throws<CudaException>(() => NcclNative.Load());
        Assert.Equal("ENGINE_NCCL_LIBRARY=libc.so.6 is not a usable NCCL 2 library: it has no export ncclGetVersion; " +
                     "point ENGINE_NCCL_LIBRARY at libnccl.so.2", e.Message);
    }

    [Fact]
    public void Without_an_override_the_error_lists_the_loader_names()
    {
        using var variable = new NcclEnvironment(null);
        if (NativeLibraries.TryLoad(NcclLibrary.Candidates(NcclLibrary.TorchWheelRoots()), out _, out _)) Assert.Skip("NCCL is installed here");
        var e = Assert.Throws<CudaException>(() => NcclNative.Load());
        Assert.StartsWith("NCCL could not be loaded (tried libnccl.so.2, libnccl.so", e.Message);
        Assert.Contains("set ENGINE_NCCL_LIBRARY to the path of libnccl.so.2", e.Message);
    }

    [Fact]
    public void A_torch_wheels_copy_is_a_candidate_after_the_loader_names()
    {
        var root = Path.Combine(Path.GetTempPath(), $"engine-nccl-{Guid.NewGuid():N}");
        try
        {
            var lib = Path.Combine(root, "python3.12", "site-packages", "nvidia", "nccl", "lib");
            Directory.CreateDirectory(lib);
            File.WriteAllBytes(Path.Combine(lib, "libnccl.so.2"), []);
            Directory.CreateDirectory(Path.Combine(root, "python3.11", "dist-packages")); // no nccl there
            Directory.CreateDirectory(Path.Combine(root, "perl5"));
            var found = NcclLibrary.Candidates([root, Path.Combine(root, "missing")]);
            Assert.Equal(["libnccl.so.2", "libnccl.so", Path.Combine(lib, "libnccl.so.2")], found);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Abi_constants_match_nccl_h()
    {
        // nccl.h: #define NCCL_UNIQUE_ID_BYTES 128, typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;
        Assert.Equal(128, Unsafe.SizeOf<NcclUniqueId>());
        Assert.Equal(128, NcclUniqueId.Bytes);
        // ncclDataType_t
        Assert.Equal(0, (int)NcclDataType.Int8);
        Assert.Equal(1, (int)NcclDataType.Uint8);
        Assert.Equal(2, (int)NcclDataType.Int32);
        Assert.Equal(6, (int)NcclDataType.Float16);
        Assert.Equal(7, (int)NcclDataType.Float32);
        Assert.Equal(8, (int)NcclDataType.Float64);
        Assert.Equal(9, (int)NcclDataType.Bfloat16);
        // ncclRedOp_t
        Assert.Equal(0, (int)NcclRedOp.Sum);
        Assert.Equal(1, (int)NcclRedOp.Prod);
        Assert.Equal(2, (int)NcclRedOp.Max);
        Assert.Equal(3, (int)NcclRedOp.Min);
        Assert.Equal(4, (int)NcclRedOp.Avg);
        // ncclResult_t
        Assert.Equal(0, (int)NcclResult.Success);
        Assert.Equal(1, (int)NcclResult.UnhandledCudaError);
        Assert.Equal(2, (int)NcclResult.SystemError);
        Assert.Equal(3, (int)NcclResult.InternalError);
        Assert.Equal(4, (int)NcclResult.InvalidArgument);
        Assert.Equal(5, (int)NcclResult.InvalidUsage);
        Assert.Equal(6, (int)NcclResult.RemoteError);
        Assert.Equal(7, (int)NcclResult.InProgress);
        Assert.Equal(8, (int)NcclResult.Timeout);
        // CUDA_ERROR_NOT_READY in cuda.h, cuStreamQuery's "still running"
        Assert.Equal(600, CudaDriverNative.ErrorNotReady);
    }

    [Fact]
    public void Status_errors_name_the_call_the_result_and_nccls_words()
    {
        var e = Assert.Throws<CudaException>(() => NcclStatus.Check("ncclCommInitRank", 2, r => r == 2 ? "unhandled system error" : null));
        Assert.Equal("ncclCommInitRank failed: ncclSystemError, \"unhandled system error\" (2)", e.Message);
        Assert.Equal("ncclCommInitRank", e.Call);
        var bare = Assert.Throws<CudaException>(() => NcclStatus.Check("ncclAllReduce", 6));
        Assert.Equal("ncclAllReduce failed: ncclRemoteError (6)", bare.Message);
        NcclStatus.Check("ncclAllReduce", 0);
    }
}

/// <summary>Sets (or clears) ENGINE_NCCL_LIBRARY for one test and restores it. Only NcclTests read the variable, and
/// xunit runs one class's tests one at a time.</summary>
internal sealed class NcclEnvironment : IDisposable
{
    private readonly string? _before = Environment.GetEnvironmentVariable(NcclLibrary.OverrideVariable);

    public NcclEnvironment(string? value) => Environment.SetEnvironmentVariable(NcclLibrary.OverrideVariable, value);

    public void Dispose() => Environment.SetEnvironmentVariable(NcclLibrary.OverrideVariable, _before);
}
