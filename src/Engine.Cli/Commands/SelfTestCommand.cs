using System.CommandLine;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Diagnostics;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Cli.Commands;

/// <summary><c>engine selftest --device cuda</c>: every op against the CPU reference in bf16 and fp32 activations,
/// then (with --model and --text) whole-model checks: greedy generation, gradients, a LoRA loss curve.</summary>
public static class SelfTestCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "tiny | realistic", DefaultValueFactory = _ => "realistic" };
        var model = new Option<string?>("--model") { Description = "a real model for the whole-model checks (e.g. stories260K.bin)" };
        var text = new Option<string?>("--text") { Description = "a text file for the LoRA training check" };
        var loraSteps = new Option<int>("--lora-steps") { Description = "steps of the LoRA curve check", DefaultValueFactory = _ => 50 };
        var cmd = new Command("selftest", "check a device backend against the CPU reference, op by op and on whole models") { size, model, text, loraSteps };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var sz = ctx.Get(size).ToLowerInvariant() switch
            {
                "tiny" => SelfTestSize.Tiny,
                "realistic" => SelfTestSize.Realistic,
                var s => throw new EngineException($"--size: expected tiny or realistic, got \"{s}\""),
            };
            var spec = ctx.DeviceSpec;
            bool failed = false;
            foreach (var act in new[] { DType.BF16, DType.F32 })
            {
                using var be = Open(spec, act);
                ctx.Output.WriteLine($"== {be.Name}, {act.Name()} activations: ops against the CPU ==");
                var report = BackendSelfTest.Run(be, ctx.Output, sz);
                failed |= !report.Passed;
                if (ctx.Get(model) is string mp && ctx.Get(text) is string tp)
                {
                    ctx.Output.WriteLine($"== {be.Name}, {act.Name()} activations: whole-model checks ==");
                    failed |= DeviceChecks.Run(be, mp, tp, ctx.Output, ctx.Get(loraSteps)).Any(c => !c.Passed);
                }
            }
            ctx.Output.WriteLine(failed ? "selftest: FAILED" : "selftest: all checks passed");
            return failed ? 1 : 0;
        }));
        return cmd;
    }

    /// <summary>The device under test with the given activation dtype; "cpu-sim" runs the ILGPU kernels on ILGPU's CPU
    /// accelerator (slow, tiny sizes only).</summary>
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
}
