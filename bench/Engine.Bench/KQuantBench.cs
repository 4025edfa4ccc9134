using System.Diagnostics;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>Single-thread GB/s of weight bytes of KQuantDot.DotRows (the decode GEMV inner loop) on a 4096x4096 weight
/// of each k-quant, for every dot ISA this machine runs; each 256-row slice's best of several passes, summed.</summary>
internal static class KQuantBench
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 4096, rows = args.Length > 1 ? int.Parse(args[1]) : 4096;
        var rng = new Rng(1);
        var x = new float[n];
        rng.FillNormal(x, 0, 1);
        var xq = new byte[n / 256 * Q8KActivations.BlockBytes];
        Q8KActivations.Quantize(x, xq);
        var dst = new float[rows];
        double bestQ = double.MaxValue;
        for (int p = 0; p < 200; p++)
        {
            var sw = Stopwatch.StartNew();
            Q8KActivations.Quantize(x, xq);
            bestQ = Math.Min(bestQ, sw.Elapsed.TotalSeconds);
        }
        Console.WriteLine($"Q8KActivations.Quantize of {n} values: {bestQ * 1e6:F2} us (best of 200)");
        Console.WriteLine($"KQuantDot.DotRows {rows}x{n}, 1 thread, GB/s of weight bytes (sum of each 256-row slice's best pass); detected ISA {DotIsas.Detected}, AVX-VNNI {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}");
        foreach (var type in new[] { GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            var w = new byte[type.RowSize(n) * rows];
            var f = new float[n];
            for (int r = 0; r < rows; r += 256)
            {
                rng.FillNormal(f, 0, 1);
                GgmlBlocks.Quantize(type, f, w.AsSpan((int)(r * type.RowSize(n)), (int)type.RowSize(n)));
            }
            for (int r = 256; r < rows; r++) // the rest: copies of the first 256 rows (quantizing 16M values is slow)
                w.AsSpan((int)(r % 256 * type.RowSize(n)), (int)type.RowSize(n)).CopyTo(w.AsSpan((int)(r * type.RowSize(n))));
            var line = $"  {type.Name(),-5} {w.Length / 1e6,6:F1} MB";
            foreach (var isa in Enum.GetValues<DotIsa>().Where(i => i <= DotIsas.Detected))
            {
                // Time 256-row slices and keep each slice's best pass: on a loaded machine a whole-matrix pass is
                // rarely uninterrupted, a slice often is.
                int slices = (rows + 255) / 256, passes = isa == DotIsa.Scalar ? 5 : 30;
                int rowBytes = (int)type.RowSize(n);
                var best = new double[slices];
                Array.Fill(best, double.MaxValue);
                for (int p = -2; p < passes; p++) // two passes to tier up
                {
                    for (int c = 0; c < slices; c++)
                    {
                        int r0 = 256 * c, nr = Math.Min(256, rows - r0);
                        var sw = Stopwatch.StartNew();
                        KQuantDot.DotRows(type, w.AsSpan(r0 * rowBytes, nr * rowBytes), nr, xq, n, dst.AsSpan(r0, nr), isa);
                        if (p >= 0) best[c] = Math.Min(best[c], sw.Elapsed.TotalSeconds);
                    }
                }
                double total = best.Sum();
                line += $"  {isa}: {w.Length / total / 1e9,6:F2} GB/s ({total * 1e3:F2} ms)";
            }
            Console.WriteLine(line);
        }
        return 0;
    }
}
