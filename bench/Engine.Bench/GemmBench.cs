using System.Diagnostics;
using Engine.Backends.Cpu;

namespace Engine.Bench;

/// <summary>GFLOP/s of <see cref="CpuGemm.Sgemm"/> on the shapes the model uses (stories15M: dim 288, hidden 768,
/// vocab 32000, 2048 tokens per step), with 1 and then 2 threads. Each figure is the median of several timed calls
/// after one warm-up call.</summary>
internal static class GemmBench
{
    private readonly record struct Case(string Name, bool TransA, bool TransB, int M, int N, int K);

    private static readonly Case[] Cases =
    [
        new("x·Wqᵀ        2048x288x288   NT", false, true, 2048, 288, 288),
        new("x·W1ᵀ        2048x768x288   NT", false, true, 2048, 768, 288),
        new("LM head      2048x32000x288 NT", false, true, 2048, 32000, 288),
        new("LM head dx   2048x288x32000 NN", false, false, 2048, 288, 32000),
        new("LM head dW   288x32000x2048 TN", true, false, 288, 32000, 2048),
        new("square       512x512x512    NN", false, false, 512, 512, 512),
        new("GEMV         1x4096x4096    NT", false, true, 1, 4096, 4096),
        new("GEMV         1x4096x4096    NN", false, false, 1, 4096, 4096),
        new("8 rows       8x4096x4096    NT", false, true, 8, 4096, 4096),
        new("1 column     2048x1x288     NN", false, false, 2048, 1, 288),
    ];

    public static int Run(string[] args)
    {
        int[] threadCounts = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [1, 2];
        string filter = args.Length > 1 ? args[1] : "";
        Console.WriteLine($"CpuGemm.Sgemm ({CpuGemm.DetectedIsa} kernel), GFLOP/s median (best) of timed calls, " +
                          $"{Environment.ProcessorCount} cores");
        Console.WriteLine($"{"case",-32} " + string.Join(" ", threadCounts.Select(t => $"{t + " thread" + (t > 1 ? "s" : ""),16}")));
        int saved = CpuParallel.Threads;
        try
        {
            foreach (var cs in Cases.Where(x => x.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)))
            {
                var (a, b, c) = Operands(cs);
                Console.Write($"{cs.Name,-32} ");
                foreach (int t in threadCounts)
                {
                    CpuParallel.Threads = t;
                    var (median, best) = Seconds(cs, a, b, c);
                    double gflop = 2.0 * cs.M * cs.N * cs.K / 1e9;
                    Console.Write($"{gflop / median,8:F1} ({gflop / best,5:F1})");
                }
                Console.WriteLine();
            }
        }
        finally { CpuParallel.Threads = saved; }
        return 0;
    }

    private static (float[] A, float[] B, float[] C) Operands(Case cs)
    {
        var rng = new Random(1234);
        float[] Fill(long count)
        {
            var x = new float[count];
            for (long i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            return x;
        }
        return (Fill((long)cs.M * cs.K), Fill((long)cs.K * cs.N), new float[(long)cs.M * cs.N]);
    }

    /// <summary>Median and best of at least 3 and at most 15 timed calls (stopping once 1.5 s have been spent), after
    /// 0.2 s of warm-up calls. The best shows what the code can do when the machine is shared.</summary>
    private static (double Median, double Best) Seconds(Case cs, float[] a, float[] b, float[] c)
    {
        int lda = cs.TransA ? cs.M : cs.K, ldb = cs.TransB ? cs.K : cs.N;
        void Call() => CpuGemm.Sgemm(cs.TransA, cs.TransB, cs.M, cs.N, cs.K, 1f, a, 0, lda, b, 0, ldb, 0f, c, 0, cs.N);
        var warm = Stopwatch.StartNew();
        do Call(); while (warm.Elapsed.TotalSeconds < 0.2);
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (times.Count < 15 && total.Elapsed.TotalSeconds < 1.5))
        {
            long t0 = Stopwatch.GetTimestamp();
            Call();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[0]);
    }
}
