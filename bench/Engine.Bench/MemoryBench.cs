using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>Base-weight memory of Llama shapes in bf16, NF4 and NF4 + double quantization, summed from real quantized
/// tensors (random normal weights, std 0.02, quantized exactly as QLoRA does), and the host quantizer's speed.
/// The seven projections of each layer are quantized; embeddings, LM head and norms are counted at bf16, as QLoRA
/// keeps them in 16 bits. Appends the table to bench/RESULTS.md.</summary>
public static class MemoryBench
{
    private sealed record ModelShape(string Name, LlamaConfig Config, int LayersQuantized);

    private sealed record Row(string Shape, long Params, long Bf16, long Nf4, long Nf4Dq, double ProjectionBits, double ProjectionBitsDq,
                              double QuantizeGBps, string Note);

    public static int Run(string resultsPath)
    {
        var shapes = new[]
        {
            new ModelShape("stories15M", Llama(288, 768, 6, 6, 6, 32000, tied: true), 6),
            // One layer of the 7B shape is quantized for real and multiplied by the 32 layers (all layers have one shape).
            new ModelShape("Llama-2-7B", Llama(4096, 11008, 32, 32, 32, 32000, tied: false), 1),
        };
        Warmup();
        var rows = shapes.Select(Measure).ToList();

        var table = new StringBuilder();
        table.AppendLine("| shape | params | bf16 | NF4 | NF4+DQ | bits/weight (projections) NF4 / NF4+DQ | quantize speed (bf16 in, NF4+DQ out) | note |");
        table.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            table.AppendLine($"| {r.Shape} | {r.Params / 1e6:F1} M | {Size(r.Bf16)} | {Size(r.Nf4)} ({100.0 * r.Nf4 / r.Bf16:F1}%) | " +
                             $"{Size(r.Nf4Dq)} ({100.0 * r.Nf4Dq / r.Bf16:F1}%) | {r.ProjectionBits:F3} / {r.ProjectionBitsDq:F3} | " +
                             $"{r.QuantizeGBps:F2} GB/s | {r.Note} |");
        Console.Write(table);

        var machine = $"{CpuModel()}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
        var section = new StringBuilder()
            .AppendLine()
            .AppendLine($"## Base-weight memory: bf16 vs NF4 vs NF4+DQ ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)")
            .AppendLine()
            .AppendLine($"Machine: {machine}. Command: `dotnet run --project bench/Engine.Bench -c Release -- memory`.")
            .AppendLine("Sizes are summed from real quantized tensors (normal(0, 0.02) weights, blocks of 64, DQ blocks of 256): the seven")
            .AppendLine("projections of every layer in NF4; embeddings, LM head and norms counted at bf16 (QLoRA keeps them in 16 bits).")
            .AppendLine("GiB = 2^30 bytes. Quantize speed: bf16 bytes in per second on the host, double quantization included.")
            .AppendLine()
            .Append(table);
        if (!File.Exists(resultsPath)) File.WriteAllText(resultsPath, "# engine benchmark results\n\nEach section: what was measured, when, on which machine, with which command.\n");
        File.AppendAllText(resultsPath, section.ToString());
        Console.WriteLine($"appended to {Path.GetFullPath(resultsPath)}");
        return 0;
    }

    /// <summary>Compiles the quantizer's paths (tiered JIT) before anything is timed.</summary>
    private static void Warmup()
    {
        var bits = new ushort[1024 * 1024];
        for (int i = 0; i < 3; i++) Nf4Weight.QuantizeBf16(bits.AsSpan(), 1024, 1024, doubleQuant: true);
    }

    private static LlamaConfig Llama(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, bool tied) => new LlamaConfig
    {
        HiddenSize = dim, IntermediateSize = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads,
        HeadDim = dim / heads, VocabSize = vocab, TieWordEmbeddings = tied,
    }.Validate("bench");

    private static Row Measure(ModelShape s)
    {
        var c = s.Config;
        long rest = 0, projectionElements = 0, nf4 = 0, nf4Dq = 0;
        double seconds = 0;
        long quantizedElements = 0;
        var rng = new Rng(1);
        foreach (var (name, shape) in LlamaWeights.Expected(c))
        {
            long n = (long)shape[0] * (shape.Length > 1 ? shape[1] : 1);
            if (!LlamaWeights.IsProjection(name))
            {
                rest += n;
                continue;
            }
            int layer = int.Parse(name.Split('.')[2], CultureInfo.InvariantCulture);
            projectionElements += n;
            if (layer >= s.LayersQuantized) continue;
            var f = new float[n];
            rng.FillNormal(f, 0, 0.02);
            var bits = new ushort[n];
            HalfConversions.FloatToBF16(f, bits);
            nf4 += Nf4Weight.QuantizeBf16(bits, shape[0], shape[1], doubleQuant: false).ByteSize;
            var sw = Stopwatch.StartNew();
            var dq = Nf4Weight.QuantizeBf16(bits, shape[0], shape[1], doubleQuant: true);
            seconds += sw.Elapsed.TotalSeconds;
            quantizedElements += n;
            nf4Dq += dq.ByteSize;
        }
        int scale = c.NumLayers / s.LayersQuantized;
        nf4 *= scale;
        nf4Dq *= scale;
        string note = s.LayersQuantized == c.NumLayers ? "all layers quantized" : $"{s.LayersQuantized} layer quantized, × {scale} layers";
        return new Row(s.Name, rest + projectionElements, 2 * (rest + projectionElements), 2 * rest + nf4, 2 * rest + nf4Dq,
            nf4 * 8.0 / projectionElements, nf4Dq * 8.0 / projectionElements, 2.0 * quantizedElements / seconds / 1e9, note);
    }

    private static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
