using System.CommandLine;
using Engine.Cuda;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine selftest --device cuda</c>: every op against the CPU reference in bf16 and fp32 activations,
/// then (with --model and --text) whole-model checks: greedy generation, gradients, a LoRA loss curve. With
/// --collectives, under mpirun (<c>mpirun -np N engine selftest --collectives</c>): the CPU ranks' Open MPI collectives
/// against sums known exactly, on every rank.</summary>
public static class SelfTestCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "tiny | realistic", DefaultValueFactory = _ => "realistic" };
        var model = new Option<string?>("--model") { Description = "a real model for the whole-model checks (e.g. stories260K.bin)" };
        var text = new Option<string?>("--text") { Description = "a text file for the LoRA training check" };
        var loraSteps = new Option<int>("--lora-steps") { Description = "steps of the LoRA curve check", DefaultValueFactory = _ => 50 };
        var collectives = new Option<bool>("--collectives") { Description = "under mpirun: check the CPU ranks' Open MPI collectives on every rank" };
        var distTimeout = new Option<double?>("--dist-timeout") { Description = "seconds any one collective may wait for the other ranks (default 1800)" };
        var stallRank = new Option<int>("--collectives-stall-rank") { Description = "with --collectives: this rank stalls before the barrier", DefaultValueFactory = _ => -1, Hidden = true };
        var stallSeconds = new Option<double>("--collectives-stall-seconds") { Description = "how long the stalling rank sleeps", Hidden = true };
        var cmd = new Command("selftest", "check a device backend against the CPU reference, op by op and on whole models")
        {
            size, model, text, loraSteps, collectives, distTimeout, stallRank, stallSeconds,
        };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            if (ctx.Get(collectives))
            {
                var seconds = ctx.Parse.GetValue(distTimeout);
                if (seconds is <= 0 or double.NaN)
                    throw new EngineException($"--dist-timeout: expected a positive number of seconds, got {seconds}");
                var timeout = seconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
                return DataParallel.CheckCollectives(timeout, ctx.Get(stallRank), ctx.Get(stallSeconds), ctx.Output) ? 0 : 1;
            }
            return DeviceDiagnostics.SelfTest(ctx.DeviceSpec, ctx.Get(size), ctx.Get(model), ctx.Get(text), ctx.Get(loraSteps), ctx.Output) ? 0 : 1;
        }));
        return cmd;
    }
}
