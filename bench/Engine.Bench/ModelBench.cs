using Engine.Backends.Cpu;
using Engine.Diagnostics;

namespace Engine.Bench;

/// <summary>CPU model benchmarks: forward tokens/s and greedy decode tokens/s (stories260K and the stories15M shape),
/// and training tokens/s (full and LoRA) with the step time of forward+backward+AdamW. Random weights: throughput does
/// not depend on values. Thread count: all cores unless DOTNET_PROCESSOR_COUNT says otherwise.</summary>
public static class ModelBench
{
    public static int Run(string[] args)
    {
        var be = CpuBackend.Instance;
        Console.WriteLine($"CPU model benchmarks, {Environment.ProcessorCount} threads, batch 8 × seq 256 (stories260K: seq 256 too)");
        Console.WriteLine($"{"shape",-12} {"forward tok/s",14} {"decode tok/s",13} {"full: tok/s",12} {"step ms",8} {"LoRA r8: tok/s",15} {"step ms",8}");
        foreach (var shape in args.Length > 0 ? args : new[] { "stories260k", "stories15m" })
        {
            var f = ForwardThroughput.Run(be, shape, 8, 256, 128);
            var full = TrainThroughput.Run(be, new TrainBenchOptions { Shape = shape, Mode = "full", Batch = 8, Seq = 256, Steps = 3 }, TextWriter.Null);
            var lora = TrainThroughput.Run(be, new TrainBenchOptions { Shape = shape, Mode = "lora", Batch = 8, Seq = 256, Steps = 3, LoraR = 8, LoraAlpha = 16 }, TextWriter.Null);
            Console.WriteLine($"{shape,-12} {f.ForwardTokensPerSecond,14:N0} {f.DecodeTokensPerSecond,13:N0} {full.TokensPerSecond,12:N0} {full.MedianStepSeconds * 1e3,8:F0} {lora.TokensPerSecond,15:N0} {lora.MedianStepSeconds * 1e3,8:F0}");
        }
        Console.WriteLine();
        Console.WriteLine("gradient checkpointing, stories15m full fine-tune b8×s256: peak memory and step time");
        foreach (bool gc in new[] { false, true })
        {
            var r = TrainThroughput.Run(be, new TrainBenchOptions { Shape = "stories15m", Mode = "full", Batch = 8, Seq = 256, Steps = 3, GradientCheckpointing = gc }, TextWriter.Null);
            Console.WriteLine($"  checkpointing {(gc ? "on " : "off")}: peak {r.PeakBytes / (double)(1 << 20),7:F0} MiB, step {r.MedianStepSeconds * 1e3,6:F0} ms, {r.TokensPerSecond,6:N0} tokens/s");
        }
        return 0;
    }
}
