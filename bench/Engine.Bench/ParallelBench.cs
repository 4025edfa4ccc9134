using System.Diagnostics;
using Engine.Backends.Cpu;

namespace Engine.Bench;

/// <summary>What one <see cref="CpuParallel.For"/> dispatch costs when the work is nothing: the floor every parallel op
/// of a decode step pays (a Llama layer runs about 15 of them per token). Times back-to-back calls with an empty body
/// over all threads, as decode issues them, and the same calls run inline on one thread for the loop's own cost.</summary>
internal static class ParallelBench
{
    public static int Run(string[] args)
    {
        int calls = args.Length > 0 ? int.Parse(args[0]) : 20_000;
        int threads = args.Length > 1 ? int.Parse(args[1]) : Environment.ProcessorCount;
        int saved = CpuParallel.Threads;
        CpuParallel.Threads = threads;
        long sink = 0;
        void Body(int a, int b) => Interlocked.Add(ref sink, b - a);
        foreach (var (label, cost) in new[] { ("inline (work below the threshold)", 1L), ($"dispatched to {threads} threads", 1L << 20) })
        {
            double best = double.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) CpuParallel.For(64, cost, Body);
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"  {label,-36} {best / calls * 1e6,8:F2} us per call (best of 5 rounds of {calls})");
        }
        CpuParallel.Threads = saved;
        return sink > 0 ? 0 : 1;
    }
}
