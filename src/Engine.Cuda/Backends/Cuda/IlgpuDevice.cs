using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Engine.Backends.Cuda.Native;

namespace Engine.Backends.Cuda;

/// <summary>An ILGPU context with one accelerator: a CUDA GPU, or ILGPU's CPU accelerator (which runs the same kernels
/// on managed threads, one OS thread per GPU thread, and is what the tests use).</summary>
internal sealed class IlgpuDevice : IDisposable
{
    private IlgpuDevice(Context context, Accelerator accelerator, string name)
    {
        Context = context;
        Accelerator = accelerator;
        Name = name;
    }

    public Context Context { get; }
    public Accelerator Accelerator { get; }
    /// <summary>"cuda:0" for a GPU, "ilgpu-cpu" for the CPU accelerator.</summary>
    public string Name { get; }
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>The context options every engine context uses, for CUDA, the CPU accelerator and PTX compile checks alike:
    /// O2 (mma.sync through CudaAsm runs 17× slower at the default level: GPU.md) and the Algorithms library, which
    /// supplies the PTX implementations of MathF.Exp/Log.</summary>
    internal static Context.Builder Configure(Context.Builder builder) => builder.Optimize(OptimizationLevel.O2).EnableAlgorithms();

    /// <summary>Opens CUDA device <paramref name="ordinal"/>, or throws a one-line <see cref="EngineException"/>:
    /// "--device {spec}: no usable CUDA GPU found (reason)".</summary>
    public static IlgpuDevice OpenCuda(int ordinal = 0, string spec = "cuda")
    {
        if (CudaProbe.WhyUnusable() is { } why) throw NoGpu(spec, why);
        IlgpuLibcudaResolver.Install();
        Context? context = null;
        try
        {
            context = Context.Create(b => Configure(ILGPU.Runtime.Cuda.CudaContextExtensions.Cuda(b)));
            var devices = ILGPU.Runtime.Cuda.CudaContextExtensions.GetCudaDevices(context);
            if (devices.Count == 0)
                throw NoGpu(spec, $"the driver sees a GPU but ILGPU accepts none: driver CUDA {CudaProbe.DriverVersion() ?? "?"} may be older than the GPU needs");
            if (ordinal < 0 || ordinal >= devices.Count)
                throw new EngineException($"--device {spec}: there is no CUDA device {ordinal} (found {devices.Count})");
            var acc = ILGPU.Runtime.Cuda.CudaContextExtensions.CreateCudaAccelerator(context, ordinal);
            return new IlgpuDevice(context, acc, $"cuda:{ordinal}");
        }
        catch (Exception e) when (e is not EngineException)
        {
            context?.Dispose();
            throw NoGpu(spec, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
        catch
        {
            context?.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator with 32-lane warps (the kernels' reductions assume the warp size divides the
    /// group size; 32 matches the GPU) and at most <paramref name="warpsPerGroup"/> warps per group (8 lets the
    /// 256-thread tiled attention kernels run). Every simulated thread is an OS thread, so keep tensors tiny.</summary>
    public static IlgpuDevice OpenCpuSimulator(int warpsPerGroup = 8)
    {
        var context = Context.Create(b => Configure(b.CPU(new CPUDevice(32, warpsPerGroup, 1))));
        return new IlgpuDevice(context, context.CreateCPUAccelerator(0), "ilgpu-cpu");
    }

    private static EngineException NoGpu(string spec, string why) => new($"--device {spec}: no usable CUDA GPU found ({why})");

    public void Dispose()
    {
        // A kernel whose module failed to load stays registered and makes Accelerator.Dispose throw
        // "invalid resource handle" (ilgpu-cuda-notes §1); nothing useful can be done about it at shutdown.
        try { Accelerator.Dispose(); }
        catch (Exception) { }
        Context.Dispose();
    }
}
