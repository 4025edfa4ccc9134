using System.CommandLine;
using Engine.Cuda;

namespace Engine.Cli.Commands;

/// <summary><c>engine bench kernels</c> and <c>engine bench train</c>.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var small = new Option<bool>("--small") { Description = "small sizes (for a quick look or a CPU)" };
        var kernels = new Command("kernels", "microbenchmarks of every op: GB/s or TFLOP/s next to copy bandwidth and GEMM rate") { small };
        kernels.SetAction(p => CliRunner.Run(p, ctx =>
        {
            DeviceDiagnostics.BenchKernels(ctx.DeviceSpec, ctx.Get(small), ctx.Output);
            return 0;
        }));

        var shape = new Option<string>("--shape") { Description = "llama2-7b | tinyllama-1b | stories15m | stories260k | llama3.2-1b | llama3.2-1b-32k | qwen2.5-0.5b", DefaultValueFactory = _ => "stories15m" };
        var mode = new Option<string>("--mode") { Description = "lora | full", DefaultValueFactory = _ => "lora" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => 256 };
        var r = new Option<int>("--lora-r") { DefaultValueFactory = _ => 16 };
        var gc = new Option<bool>("--gradient-checkpointing");
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 1 };
        var maxSeconds = new Option<double>("--max-seconds") { DefaultValueFactory = _ => 120 };
        var train = new Command("train", "training throughput (tokens/s, peak memory) of a model shape with random weights on the device")
        {
            shape, mode, batch, seq, r, gc, steps, warmup, maxSeconds,
        };
        train.SetAction(p => CliRunner.Run(p, ctx =>
        {
            ctx.Output.WriteLine(DeviceDiagnostics.BenchTrain(ctx.DeviceSpec, new TrainBenchSettings
            {
                Shape = ctx.Get(shape), Mode = ctx.Get(mode), BatchSize = ctx.Get(batch), Seq = ctx.Get(seq), LoraR = ctx.Get(r),
                GradientCheckpointing = ctx.Get(gc), Steps = ctx.Get(steps), WarmupSteps = ctx.Get(warmup), MaxSeconds = ctx.Get(maxSeconds),
            }, ctx.Output));
            return 0;
        }));
        var fShape = new Option<string>("--shape") { Description = "llama2-7b | tinyllama-1b | stories15m | stories260k | llama3.2-1b | llama3.2-1b-32k | qwen2.5-0.5b", DefaultValueFactory = _ => "stories15m" };
        var fBatch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var fSeq = new Option<int>("--seq") { DefaultValueFactory = _ => 256 };
        var decode = new Option<int>("--decode-tokens") { DefaultValueFactory = _ => 128 };
        var forward = new Command("forward", "inference throughput: a no-grad forward over a batch, and greedy decoding with the KV cache")
        {
            fShape, fBatch, fSeq, decode,
        };
        forward.SetAction(p => CliRunner.Run(p, ctx =>
        {
            ctx.Output.WriteLine(DeviceDiagnostics.BenchForward(ctx.DeviceSpec, ctx.Get(fShape), ctx.Get(fBatch), ctx.Get(fSeq), ctx.Get(decode)));
            return 0;
        }));
        return new Command("bench", "benchmarks: kernels, training and inference throughput") { kernels, train, forward };
    }
}
