using System.Diagnostics;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>Times NF4 quantize/dequantize of a Llama-7B MLP-sized weight (4096 x 11008) on the host.</summary>
public static class Nf4Bench
{
    public static void Run()
    {
        const int rows = 4096, cols = 11008;
        var rng = new Rng(1);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextNormal() * 0.02f;
        var output = new float[w.Length];
        var bf16 = new ushort[w.Length];
        Console.WriteLine($"NF4 {rows}x{cols} on {Environment.ProcessorCount} cores");
        for (int round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            var q = Nf4Weight.Quantize(w, rows, cols);
            double quantize = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            q.Dequantize(output);
            double dequantize = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            q.DequantizeBf16(bf16);
            double dequantizeBf16 = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            q.DequantizeRows(1000, 64, output.AsSpan(0, 64 * cols));
            double rows64 = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"  quantize+DQ {quantize,7:F1} ms   dequantize f32 {dequantize,6:F1} ms   bf16 {dequantizeBf16,6:F1} ms" +
                $"   64 rows {rows64,5:F2} ms   {q.ByteSize * 8.0 / q.Count:F3} bits/weight");
        }
    }
}
