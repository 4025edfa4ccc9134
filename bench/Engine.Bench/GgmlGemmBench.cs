using System.Diagnostics;
using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>GFLOP/s (2·m·n·k per product) of the CPU backend's many-row GGUF forward product (CpuBackend.GgmlMatMul,
/// x·Wᵀ, the prompt's product) per type on both of its paths, alternating in one run: the integer block GEMM and the
/// dequantized tiles into the SGEMM. What decides the choice between them (CpuBackend.UsesBlockGemm).</summary>
internal static class GgmlGemmBench
{
    public static int Run(string[] args)
    {
        int m = args.Length > 0 ? int.Parse(args[0]) : 512, rows = args.Length > 1 ? int.Parse(args[1]) : 2048, cols = args.Length > 2 ? int.Parse(args[2]) : 2048;
        var types = args.Length > 3 ? args[3].Split(',').Select(s => GgmlTypes.TryParse(s, out var t) ? t : throw new ArgumentException(s)).ToArray()
                                    : [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K];
        int repeats = args.Length > 4 ? int.Parse(args[4]) : 5;
        int savedThreads = CpuParallel.Threads;
        if (args.Length > 5) CpuParallel.Threads = int.Parse(args[5]);
        var be = CpuBackend.Instance;
        var rng = new Rng(3);
        var x = new float[m * cols];
        rng.FillNormal(x, 0, 1);
        double flops = 2.0 * m * rows * cols;
        Console.WriteLine($"GGUF forward {m}x{cols} · ({rows}x{cols})ᵀ, {CpuParallel.Threads} thread(s) ({(CpuParallel.Threads > 1 ? "wall-clock" : "CPU")} time); GFLOP/s, best of {repeats} alternating " +
                          $"(detected ISA {DotIsas.Detected}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        foreach (var type in types)
        {
            var bytes = new byte[type.RowSize((long)rows * cols)];
            var f = new float[cols];
            long rowBytes = type.RowSize(cols);
            for (int r = 0; r < rows; r++)
            {
                rng.FillNormal(f, 0, 0.02);
                GgmlBlocks.Quantize(type, f, bytes.AsSpan((int)(r * rowBytes), (int)rowBytes));
            }
            using var w = GgmlWeight.FromBytes("bench", type, rows, cols, bytes);
            using var scope = new TensorScope();
            var a = be.FromFloats(x, new Shape(m, cols), DType.F32);
            var c = be.Empty(new Shape(m, rows), DType.F32);
            double gemm = double.MaxValue, tiled = double.MaxValue;
            for (int p = -2; p < repeats; p++) // two untimed passes to tier up
            {
                double tg = Time(() => be.GgmlMatMul(a, w, transW: true, c, blockGemm: true));
                double tt = Time(() => be.GgmlMatMul(a, w, transW: true, c, blockGemm: false));
                if (p >= 0) (gemm, tiled) = (Math.Min(gemm, tg), Math.Min(tiled, tt));
            }
            Console.WriteLine($"  {type.Name(),-5} block GEMM {flops / gemm / 1e9,6:F1}  dequantized tiles + SGEMM {flops / tiled / 1e9,6:F1}  ratio {tiled / gemm,5:F2}×" +
                              $"  (chosen: {(CpuBackend.UsesBlockGemm(type, m, cols) ? "block GEMM" : "SGEMM")})");
        }
        CpuParallel.Threads = savedThreads;
        return 0;
    }

    /// <summary>Seconds of <paramref name="body"/>: wall-clock time, or with one thread the process's CPU time, which
    /// other processes on a loaded machine do not inflate.</summary>
    private static double Time(Action body)
    {
        if (CpuParallel.Threads > 1)
        {
            var sw = Stopwatch.StartNew();
            body();
            return sw.Elapsed.TotalSeconds;
        }
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        body();
        return (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
    }
}
