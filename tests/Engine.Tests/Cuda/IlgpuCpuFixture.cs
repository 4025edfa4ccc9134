using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>One ILGPU CPU accelerator for every test that runs kernels (creating one costs ~0.3 s and each kernel
/// compiles once per accelerator), with a backend per activation dtype on it.</summary>
public sealed class IlgpuCpuFixture : IDisposable
{
    public IlgpuCpuFixture()
    {
        Device = IlgpuDevice.OpenCpuSimulator();
        F32 = new IlgpuBackend(Device, new IlgpuBackendOptions { ActivationType = DType.F32 });
        BF16 = new IlgpuBackend(Device, new IlgpuBackendOptions { ActivationType = DType.BF16 });
    }

    internal IlgpuDevice Device { get; }
    internal IlgpuBackend F32 { get; }
    internal IlgpuBackend BF16 { get; }

    internal IlgpuBackend Backend(string activation) => activation == "f32" ? F32 : BF16;

    public void Dispose()
    {
        F32.Dispose();
        BF16.Dispose();
        Device.Dispose();
    }
}

/// <summary>Tests on the CPU accelerator share the fixture and run one at a time (each simulated GPU thread is an OS
/// thread; running them side by side on two cores only slows all of them).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IlgpuCpuCollection : ICollectionFixture<IlgpuCpuFixture>
{
    public const string Name = "ilgpu-cpu";
}
