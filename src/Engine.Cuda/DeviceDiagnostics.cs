using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Diagnostics;
using Engine.Tensors;

namespace Engine.Cuda;

/// <summary>Training-shape settings of <see cref="DeviceDiagnostics.BenchTrain"/>.</summary>
public sealed record TrainBenchSettings
{
    /// <summary>llama2-7b, tinyllama-1b, stories15m or stories260k.</summary>
    public string Shape { get; init; } = "stories15m";
    /// <summary>lora or full.</summary>
    public string Mode { get; init; } = "lora";
    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Tokens per sequence.</summary>
    public int Seq { get; init; } = 256;
    /// <summary>LoRA rank (alpha is twice the rank).</summary>
    public int LoraR { get; init; } = 16;
    /// <summary>Recompute each decoder layer in backward.</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Timed steps (the median is reported).</summary>
    public int Steps { get; init; } = 3;
    /// <summary>Untimed steps first.</summary>
    public int WarmupSteps { get; init; } = 1;
    /// <summary>Stop timing after this many seconds.</summary>
    public double MaxSeconds { get; init; } = 120;
}

/// <summary>The checks and benchmarks behind <c>engine selftest</c> and <c>engine bench</c>: a device backend against the
/// CPU reference op by op and on whole models, kernel microbenchmarks, and training and inference throughput.</summary>
public static class DeviceDiagnostics
{
    /// <summary>Every op against the CPU reference in bf16 and fp32 activations, then (with a model and a text file)
    /// whole-model checks: greedy generation, gradients, a LoRA loss curve. <paramref name="device"/> is cuda, cuda:N
    /// or cpu-sim (the ILGPU kernels on ILGPU's CPU accelerator; tiny sizes only). True when every check passed.</summary>
    public static bool SelfTest(string device, string size, string? model, string? text, int loraSteps, TextWriter output)
    {
        var sz = size.ToLowerInvariant() switch
        {
            "tiny" => SelfTestSize.Tiny,
            "realistic" => SelfTestSize.Realistic,
            var s => throw new EngineException($"--size: expected tiny or realistic, got \"{s}\""),
        };
        CudaSupport.Register();
        bool failed = false;
        foreach (var act in new[] { DType.BF16, DType.F32 })
        {
            using var be = Open(device, act);
            output.WriteLine($"== {be.Name}, {act.Name()} activations: ops against the CPU ==");
            failed |= !BackendSelfTest.Run(be, output, sz).Passed;
            if (model is not null && text is not null)
            {
                output.WriteLine($"== {be.Name}, {act.Name()} activations: whole-model checks ==");
                failed |= DeviceChecks.Run(be, model, text, output, loraSteps).Any(c => !c.Passed);
            }
        }
        output.WriteLine(failed ? "selftest: FAILED" : "selftest: all checks passed");
        return !failed;
    }

    private static IlgpuBackend Open(string spec, DType act)
    {
        var options = new IlgpuBackendOptions { ActivationType = act };
        if (spec == "cpu-sim") return new IlgpuBackend(IlgpuDevice.OpenCpuSimulator(), options, ownsDevice: true);
        if (Devices.Create(spec) is IlgpuBackend probe)
        {
            int ordinal = spec.StartsWith("cuda:", StringComparison.Ordinal) ? int.Parse(spec.AsSpan(5)) : 0;
            probe.Dispose();
            return IlgpuBackend.CreateCuda(ordinal, spec, options);
        }
        throw new EngineException($"selftest checks a GPU backend against the CPU; --device {spec} is the CPU itself (use cuda, cuda:N or cpu-sim)");
    }

    /// <summary>Microbenchmarks of every op: GB/s or TFLOP/s next to copy bandwidth and the GEMM rate.</summary>
    public static void BenchKernels(string device, bool small, TextWriter output)
    {
        CudaSupport.Register();
        var be = Devices.Create(device);
        output.WriteLine($"kernel benchmarks on {be.Name} ({be.ActivationType.Name()} activations)");
        KernelBench.Run(be, output, small);
    }

    /// <summary>Training throughput (tokens/s, peak memory) of a model shape with random weights; returns the result line.</summary>
    public static string BenchTrain(string device, TrainBenchSettings s, TextWriter output)
    {
        CudaSupport.Register();
        var be = Devices.Create(device);
        var result = TrainThroughput.Run(be, new TrainBenchOptions
        {
            Shape = s.Shape, Mode = s.Mode, Batch = s.BatchSize, Seq = s.Seq, LoraR = s.LoraR, LoraAlpha = 2 * s.LoraR,
            GradientCheckpointing = s.GradientCheckpointing, Steps = s.Steps, WarmupSteps = s.WarmupSteps, MaxSeconds = s.MaxSeconds,
        }, output);
        return result.Line();
    }

    /// <summary>Inference throughput: a no-grad forward over a batch and greedy decoding with the KV cache; returns the result line.</summary>
    public static string BenchForward(string device, string shape, int batch, int seq, int decodeTokens)
    {
        CudaSupport.Register();
        var be = Devices.Create(device);
        var r = ForwardThroughput.Run(be, shape, batch, seq, decodeTokens);
        return $"{r.Shape} on {be.Name}: forward {r.ForwardTokensPerSecond:N0} tokens/s (b{r.Batch}×s{r.Seq}), greedy decode {r.DecodeTokensPerSecond:N1} tokens/s";
    }
}
