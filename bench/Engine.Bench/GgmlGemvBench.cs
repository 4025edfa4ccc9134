using System.Diagnostics;
using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>GB/s of weight bytes of the CPU backend's GGUF GEMV (CpuBackend.GgmlMatMul with one activation row, the
/// decode product) on an out×in weight of each type, at 1 thread and at all threads: what decode reads per token.
/// The weight is larger than the last-level cache by default (11008×4096, llama-7B's MLP), so this is DRAM speed.
/// <c>--prefetch D1,D2,…</c> runs each type once per k-quant prefetch distance in bytes (<see cref="KQuantDot.PrefetchDistance"/>; 0 off).</summary>
internal static class GgmlGemvBench
{
    public static int Run(string[] args)
    {
        int[] distances = [KQuantDot.PrefetchDistance];
        int at = Array.IndexOf(args, "--prefetch");
        if (at >= 0)
        {
            if (at + 1 >= args.Length) throw new ArgumentException("--prefetch needs a list of byte distances");
            distances = args[at + 1].Split(',').Select(int.Parse).ToArray();
            args = args.Take(at).Concat(args.Skip(at + 2)).ToArray();
        }
        int rows = args.Length > 0 ? int.Parse(args[0]) : 11008, cols = args.Length > 1 ? int.Parse(args[1]) : 4096;
        var types = args.Length > 2 ? args[2].Split(',').Select(s => GgmlTypes.TryParse(s, out var t) ? t : throw new ArgumentException(s)).ToArray()
                                    : [GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F32];
        var be = CpuBackend.Instance;
        var rng = new Rng(3);
        var x = new float[cols];
        rng.FillNormal(x, 0, 1);
        Console.WriteLine($"GGUF GEMV {rows}x{cols}, one activation row; GB/s of weight bytes, best of 20 (detected ISA {DotIsas.Detected})");
        foreach (var type in types)
        {
            var bytes = new byte[type.RowSize((long)rows * cols)];
            var f = new float[cols];
            long rowBytes = type.RowSize(cols);
            for (int r = 0; r < rows; r++)
            {
                if (r < 64) { rng.FillNormal(f, 0, 0.02); GgmlBlocks.Quantize(type, f, bytes.AsSpan((int)(r * rowBytes), (int)rowBytes)); }
                else bytes.AsSpan((int)(r % 64 * rowBytes), (int)rowBytes).CopyTo(bytes.AsSpan((int)(r * rowBytes)));
            }
            using var w = GgmlWeight.FromBytes("bench", type, rows, cols, bytes);
            foreach (int distance in type.IsKQuant() ? distances : distances.Take(1))
            {
                KQuantDot.PrefetchDistance = distance;
                var line = $"  {type.Name(),-5} {bytes.Length / 1e6,7:F1} MB" + (type.IsKQuant() && distances.Length > 1 ? $" ahead {distance,6}" : "");
                int saved = CpuParallel.Threads;
                foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
                {
                    CpuParallel.Threads = threads;
                    double best = double.MaxValue;
                    using var scope = new TensorScope();
                    var a = be.FromFloats(x, new Shape(1, cols), DType.F32);
                    var c = be.Empty(new Shape(1, rows), DType.F32);
                    for (int p = 0; p < 20; p++)
                    {
                        var sw = Stopwatch.StartNew();
                        be.GgmlMatMul(a, w, transW: true, c);
                        best = Math.Min(best, sw.Elapsed.TotalSeconds);
                    }
                    line += $"  {threads} thr {bytes.Length / best / 1e9,6:F1} GB/s";
                }
                CpuParallel.Threads = saved;
                Console.WriteLine(line);
            }
        }
        return 0;
    }
}
