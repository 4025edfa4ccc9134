using System.Diagnostics;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>Single-thread GB/s of weight bytes of LegacyDot.DotRows on a cache-resident weight (the kernel's compute
/// speed, not DRAM's) for q4_0, q5_0 and q8_0 on every dot ISA this machine runs; best of many passes.</summary>
internal static class LegacyDotBench
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 4096, rows = args.Length > 1 ? int.Parse(args[1]) : 64;
        var rng = new Rng(1);
        var x = new float[n];
        rng.FillNormal(x, 0, 1);
        Console.WriteLine($"LegacyDot.DotRows {rows}x{n}, 1 thread, cache-resident, GB/s of weight bytes (best of 400 passes); detected ISA {DotIsas.Detected}");
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0 })
        {
            long rowBytes = type.RowSize(n);
            var w = new byte[rowBytes * rows];
            var f = new float[n];
            for (int r = 0; r < rows; r++)
            {
                rng.FillNormal(f, 0, 1);
                GgmlBlocks.Quantize(type, f, w.AsSpan((int)(r * rowBytes), (int)rowBytes));
            }
            var xq = new byte[n / 32 * Q8Activations.Q8_0BlockBytes];
            Q8Activations.QuantizeQ8_0(x, xq);
            var dst = new float[rows];
            var line = $"  {type.Name(),-5} {w.Length / 1e6,6:F2} MB";
            foreach (var isa in Enum.GetValues<DotIsa>().Where(i => i <= DotIsas.Detected))
            {
                double best = double.MaxValue;
                for (int p = 0; p < 400; p++)
                {
                    var sw = Stopwatch.StartNew();
                    LegacyDot.DotRows(type, w, rows, xq, n, dst, isa);
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                line += $"  {isa} {w.Length / best / 1e9,6:F1}";
            }
            Console.WriteLine(line);
        }
        return 0;
    }
}
