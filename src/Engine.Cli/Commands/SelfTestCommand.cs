using System.CommandLine;
using Engine.Cuda;

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
            DeviceDiagnostics.SelfTest(ctx.DeviceSpec, ctx.Get(size), ctx.Get(model), ctx.Get(text), ctx.Get(loraSteps), ctx.Output) ? 0 : 1));
        return cmd;
    }
}
