using System.Diagnostics;
using System.Text;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Quant;
using Engine.Tests.Support;

namespace Engine.Tests.Export;

/// <summary>The numbers in bench/RESULTS.md for the GGUF export types (not assertions of quality: measurements). Run
/// only with ENGINE_QUANT_BENCH=1; each prints a markdown table.</summary>
public class GgufQuantNumbers
{
    private readonly ITestOutputHelper _log;

    public GgufQuantNumbers(ITestOutputHelper log) => _log = log;

    private static void OptIn()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_QUANT_BENCH") != "1") Assert.Skip("set ENGINE_QUANT_BENCH=1 to measure");
    }

    /// <summary>stories260K exported as every --type (and the k-quants --pure): file size, how many 2-D weights fell
    /// back, and the mean NLL per token over the five TinyStories sample stories scored by engine (reading the GGUF
    /// back, as engine eval does) and by llama.cpp (LLamaSharp), each against the f16 export's NLL.</summary>
    [Fact]
    public void Stories260K_size_and_nll_of_every_export_type()
    {
        OptIn();
        using var source = StoriesExports.LoadSource();
        var tok = source.RequireTokenizer();
        var stories = StoriesExports.Stories();
        using var tmp = new TempDir();
        var rows = new List<(string Name, long Bytes, int Fallbacks, string Types, double Engine, double Cpp)>();
        var names = GgufQuantType.Names.Select(n => (n, false)).Concat(new[] { ("q2_k", true), ("q3_k_m", true), ("q6_k", true) });
        foreach (var (name, pure) in names)
        {
            Assert.True(GgufQuantType.TryParse(name, pure, out var q));
            var file = tmp.File($"{name}{(pure ? "-pure" : "")}.gguf");
            var report = GgufExporter.Export(source.Model, tok, q, file, "stories260K");
            using var back = ModelLoader.Load(file, CpuBackend.Instance, new WeightOptions());
            double engine = Perplexity.Evaluate(back.Model, back.RequireTokenizer(), stories).MeanNll;
            double cpp = LlamaCppJudgeTests.LlamaCppNll(file).Nll;
            string types = string.Join(", ", report.Tensors.Where(t => t.Shape.Length == 2).GroupBy(t => t.Type).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key.Name()}"));
            rows.Add((pure ? name + " --pure" : name, new FileInfo(file).Length, report.Notes.Count, types, engine, cpp));
        }
        var f16 = rows.Single(r => r.Name == "f16");
        var sb = new StringBuilder();
        sb.AppendLine("| --type | bytes | 2-D weights stored as | fallbacks | NLL engine | Δ vs f16 | NLL llama.cpp | Δ vs f16 |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Name} | {r.Bytes:N0} | {r.Types} | {r.Fallbacks} | {r.Engine:F4} | {Percent(r.Engine, f16.Engine)} | {r.Cpp:F4} | {Percent(r.Cpp, f16.Cpp)} |");
        _log.WriteLine(sb.ToString());
    }

    private static string Percent(double x, double reference) => $"{Math.Round((x - reference) / reference * 100, 2):+0.00;-0.00;0.00}%";

    /// <summary>Whole-export throughput, f32 MB/s of 2-D weights in, of engine's GGUF export (weights in memory →
    /// quantized file) against llama_model_quantize (f32 GGUF file → quantized file, nthread = the cores) for the
    /// mixtures, on a random 4-layer, 1024-wide model (210 MB of f32 2-D weights), in this one process.</summary>
    [Fact]
    public void Mixture_export_throughput_against_llama_model_quantize()
    {
        OptIn();
        var c = new LlamaConfig
        {
            HiddenSize = 1024, IntermediateSize = 2816, NumLayers = 4, NumHeads = 16, NumKvHeads = 16, HeadDim = 64,
            VocabSize = 512, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5f, RopeTheta = 10000f,
        }.Validate("bench");
        var be = CpuBackend.Instance;
        var tok = LlamaQuantizeJudgeTests.Tok512();
        using var tmp = new TempDir();
        using var model = new LlamaModel(c, be, LlamaWeights.Random(c, be, 5, new WeightOptions(), std: 0.02, embeddingStd: 0.02));
        var f32 = GgufExporter.Export(model, tok, GgmlType.F32, tmp.File("f32.gguf"));
        double mb = f32.Tensors.Where(t => t.Shape.Length == 2).Sum(t => (double)t.Shape[0] * t.Shape[1]) * 4 / 1e6;
        int threads = Environment.ProcessorCount;
        GgufExporter.Export(model, tok, GgmlType.Q8_0, tmp.File("warm.gguf")); // JIT warm-up
        var sb = new StringBuilder();
        sb.AppendLine($"{mb:F0} MB of f32 2-D weights, {threads} threads");
        sb.AppendLine("| --type | engine MB/s | llama_model_quantize MB/s | ratio |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var name in new[] { "q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k" })
        {
            Assert.True(GgufQuantType.TryParse(name, false, out var q));
            var sw = Stopwatch.StartNew();
            GgufExporter.Export(model, tok, q, tmp.File($"{name}.gguf"));
            double engine = mb / sw.Elapsed.TotalSeconds;
            sw.Restart();
            LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File($"{name}-cpp.gguf"), q.FileType, threads: threads);
            double cpp = mb / sw.Elapsed.TotalSeconds;
            sb.AppendLine($"| {name} | {engine:F1} | {cpp:F1} | {engine / cpp:F2}× |");
        }
        _log.WriteLine(sb.ToString());
    }
}
