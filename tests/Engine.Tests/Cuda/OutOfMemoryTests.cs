using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Data;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Cuda;

/// <summary>A device that runs out of memory gives one message with the run's memory plan and what to change, reached
/// here through the backend's memory limit on ILGPU's CPU accelerator.</summary>
[Collection(IlgpuCpuCollection.Name)]
public class OutOfMemoryTests
{
    private readonly IlgpuCpuFixture _fx;

    public OutOfMemoryTests(IlgpuCpuFixture fx) => _fx = fx;

    [Fact]
    public void The_limit_counts_held_and_cached_blocks_and_gives_the_cache_back_before_failing()
    {
        using var be = new IlgpuBackend(_fx.Device, new IlgpuBackendOptions { ActivationType = DType.F32, MemoryLimitBytes = 4L << 20 });
        var a = be.Zeros(new Shape(512 * 1024), DType.F32);   // 2 MiB
        a.Dispose();                                            // back to the cache, still held from the device
        using var b = be.Zeros(new Shape(768 * 1024), DType.F32); // 3 MiB: fits only once the cached 2 MiB is freed
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => be.Zeros(new Shape(512 * 1024), DType.F32));
        Assert.Equal($"out of memory on {be.Name}: allocating 2.0 MiB with 4.0 MiB in use of the 4.0 MiB allowed", e.Message);
    }

    [Fact]
    public void A_training_run_that_does_not_fit_names_its_plan_and_the_fixes()
    {
        using var tmp = new TempDir();
        using var be = new IlgpuBackend(_fx.Device, new IlgpuBackendOptions { ActivationType = DType.F32, MemoryLimitBytes = 3L << 20 });
        var job = new TrainJob(new TrainJobOptions
        {
            Data = new DataOptions(),
            Loop = new TrainOptions { Mode = TrainMode.Lora, OutputDir = tmp.Path, MaxSteps = 1, BatchSize = 4 },
        }, be, TextWriter.Null) { ConfigureTrainer = t => t.PlainProgress = true };
        var e = Assert.Throws<EngineException>(() => job.Run(TestContext.Current.CancellationToken));
        Assert.IsType<DeviceOutOfMemoryException>(e.InnerException);
        Assert.StartsWith($"out of memory on {be.Name}: allocating ", e.Message);
        Assert.Contains("of the 3.0 MiB allowed; this run planned about ", e.Message);
        Assert.Contains("a smaller --batch-size (now 4; raise --grad-accum to keep the effective batch), a smaller --max-length (now 2048), " +
                        "--gradient-checkpointing (recomputes each layer in backward), --mode qlora (a 4-bit base)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
