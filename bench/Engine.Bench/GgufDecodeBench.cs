using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Engine.Checkpoints;
using Engine.Quant;

namespace Engine.Bench;

/// <summary><c>gguf-decode [shapes] [types] [--threads N] [--tokens N] [--prompt N] [--repeat N] [--kv-cache LIST] [--keep DIR [--write-only]] [--reference]</c>: engine's CPU inference from
/// GGUF blocks against llama.cpp on the same file, cores and threads. For each shape (default stories15m; llama2-7b
/// opt-in: it writes 4–7 GB per file) and llama-quantize type (default f32,q8_0,q4_0,q4_k_m; f32 is skipped for
/// llama2-7b, a 27 GB file) it writes a random-weight GGUF to a temporary folder (<see cref="GgufBenchFile"/>), runs
/// each implementation in a fresh child process (<see cref="GgufDecodeChild"/>) so each peak RSS is that run's alone,
/// deletes the file, and prints one markdown table: decode and 512-token prompt tokens/s, peak RSS against the file
/// size, and how far the two agree (cosine of the logits after the prompt, and the common prefix of the greedy ids).
/// Each side runs <c>--repeat</c> times (default 3; 1 for llama2-7b), alternating, and keeps its best times.
/// <c>--kv-cache</c> lists engine's KV cache types to run on each file (auto, f32, f16, q8_0; default auto, which is
/// f16 for these files), one row each; llama.cpp runs once per file with its default f16 cache. <c>--keep DIR</c> writes
/// the files to DIR and keeps them, and takes a file already there instead of writing it again (repeated runs, and
/// profiling a child by hand: <c>gguf-decode-child --impl engine --model DIR/shape-type.gguf ...</c>); with
/// <c>--write-only</c> it only writes them (a 7B file takes many minutes: make it before the timed runs).
/// <c>--reference</c> also runs the file once as fp32 math (<see cref="EngineDecode"/> with fp32 products on the
/// dequantized weights and an fp32 cache) and reports each side's cosine to it: how far each implementation's 8-bit activations and f16
/// cache take its logits from the file's exact math, so a gap between the two sides can be told from a bug.</summary>
internal static class GgufDecodeBench
{
    private static readonly string[] DefaultTypes = ["f32", "q8_0", "q4_0", "q4_k_m"];

    public static int Run(string[] args)
    {
        var positional = new List<string>();
        int threads = Environment.ProcessorCount, prompt = 512;
        int? tokens = null, repeat = null;
        string[] kvTypes = ["auto"];
        string? keep = null;
        bool writeOnly = false, reference = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--threads": threads = int.Parse(Value()); break;
                case "--tokens": tokens = int.Parse(Value()); break;
                case "--prompt": prompt = int.Parse(Value()); break;
                case "--repeat": repeat = int.Parse(Value()); break;
                case "--kv-cache": kvTypes = Value().Split(','); break;
                case "--keep": keep = Value(); break;
                case "--write-only": writeOnly = true; break;
                case "--reference": reference = true; break;
                default: positional.Add(args[i]); break;
            }
        }
        if (writeOnly && keep is null) throw new ArgumentException("--write-only needs --keep DIR (where the files stay)");
        var shapes = positional.Count > 0 ? positional[0].Split(',') : ["stories15m"];
        var types = positional.Count > 1 ? positional[1].Split(',') : DefaultTypes;
        var tokenizer = GgufBenchFile.Llama2Tokenizer();
        var dir = keep is null ? Directory.CreateTempSubdirectory("engine-gguf-decode-") : Directory.CreateDirectory(keep);
        var rows = new List<string>();
        var notes = new List<string>();
        Console.WriteLine($"gguf-decode: threads {threads} (both sides), prompt {prompt} tokens, {Environment.ProcessorCount} logical CPUs, " +
                          $"load average {LoadAverage()}, temp {dir.FullName}");
        try
        {
            foreach (var shape in shapes)
            {
                bool big = shape.Equals("llama2-7b", StringComparison.OrdinalIgnoreCase);
                int n = tokens ?? (big ? 16 : 128), runs = repeat ?? (big ? 1 : 3);
                var config = GgufBenchFile.Config(shape, Math.Max(1024, prompt + n));
                foreach (var typeName in types)
                {
                    if (big && typeName == "f32")
                    {
                        notes.Add($"{shape} f32 skipped: a 27 GB file and as much RAM for llama.cpp's mapped weights");
                        continue;
                    }
                    if (!GgufQuantType.TryParse(typeName, pure: false, out var type))
                        throw new ArgumentException($"unknown type {typeName}; expected one of {string.Join(", ", GgufQuantType.Names)}");
                    var path = Path.Combine(dir.FullName, $"{shape}-{typeName}.gguf");
                    try
                    {
                        var sw = Stopwatch.StartNew();
                        var report = keep is not null && File.Exists(path) ? GgufBenchFile.Describe(path) : GgufBenchFile.Write(config, tokenizer, type, path);
                        double mb = new FileInfo(path).Length / 1e6;
                        Console.WriteLine($"  wrote {Path.GetFileName(path)}: {mb:F1} MB in {sw.Elapsed.TotalSeconds:F1} s (maker peak RSS so far {GgufDecodeChild.PeakRssKb() / 1024.0:F0} MiB); {Holds(report)}");
                        foreach (var note in report.Notes.Take(3)) Console.WriteLine($"    {note}");
                        if (report.Notes.Count > 3) Console.WriteLine($"    … and {report.Notes.Count - 3} more notes");
                        if (writeOnly) continue;
                        // Alternate the two sides and keep each one's best time: on a shared machine the slowest runs
                        // measure the neighbours, not the implementation.
                        var engineRuns = kvTypes.Select(_ => new List<GgufDecodeResult>()).ToArray();
                        var llamaRuns = new List<GgufDecodeResult>();
                        var engineLogits = new float[kvTypes.Length][];
                        float[] llamaLogits = [];
                        for (int r = 0; r < runs; r++)
                        {
                            for (int kv = 0; kv < kvTypes.Length; kv++)
                                engineRuns[kv].Add(Child("engine", path, threads, n, prompt, kvTypes[kv], out engineLogits[kv]));
                            llamaRuns.Add(Child("llamacpp", path, threads, n, prompt, null, out llamaLogits));
                        }
                        float[]? referenceLogits = null;
                        if (reference) Child("reference", path, threads, 1, prompt, null, out referenceLogits);
                        var l = Best(llamaRuns);
                        if (referenceLogits is not null)
                            notes.Add($"{shape} {typeName}: cosine to the fp32 reference (fp32 products on the dequantized weights, fp32 cache) of the logits after " +
                                      $"the prompt: llama.cpp {Cosine(llamaLogits, referenceLogits):F5}, " +
                                      string.Join(", ", kvTypes.Select((kv, i) => $"engine KV {kv} {Cosine(engineLogits[i], referenceLogits):F5}")));
                        for (int kv = 0; kv < kvTypes.Length; kv++)
                        {
                            var e = Best(engineRuns[kv]);
                            rows.Add(Row(shape, typeName, mb, e, l));
                            int common = e.Generated.Zip(l.Generated).TakeWhile(p => p.First == p.Second).Count();
                            notes.Add($"{shape} {typeName}, engine KV {e.KvCache}: logits after the prompt, cosine {Cosine(engineLogits[kv], llamaLogits):F5}, max |diff| " +
                                      $"{MaxAbsDiff(engineLogits[kv], llamaLogits):G3}; greedy ids agree for the first {common} of {n} " +
                                      $"(engine {string.Join(",", e.Generated.Take(6))}…, llama.cpp {string.Join(",", l.Generated.Take(6))}…); file holds {Holds(report)}");
                        }
                    }
                    finally
                    {
                        if (keep is null) File.Delete(path);
                    }
                }
            }
        }
        finally
        {
            if (keep is null) dir.Delete(recursive: true);
        }
        notes.Add($"load average at the end {LoadAverage()}; tokens/s are the best of each side's runs, peak RSS the largest");
        Console.WriteLine();
        Console.WriteLine("| shape | type | engine KV | file MB | engine decode tok/s | llama.cpp decode tok/s | ratio | engine prompt tok/s | llama.cpp prompt tok/s | engine peak RSS MB (×file) | llama.cpp peak RSS MB (×file) |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows) Console.WriteLine(row);
        Console.WriteLine();
        foreach (var note in notes) Console.WriteLine($"- {note}");
        return 0;
    }

    private static string Row(string shape, string type, double fileMb, GgufDecodeResult e, GgufDecodeResult l)
    {
        double eRss = e.PeakRssKb * 1024 / 1e6, lRss = l.PeakRssKb * 1024 / 1e6;
        return $"| {shape} | {type} | {e.KvCache} | {fileMb:F1} | {e.DecodeTokensPerSecond:F1} | {l.DecodeTokensPerSecond:F1} | {e.DecodeTokensPerSecond / l.DecodeTokensPerSecond:F2}× | " +
               $"{e.PromptTokensPerSecond:F0} | {l.PromptTokensPerSecond:F0} | {eRss:F0} ({eRss / fileMb:F2}×) | {lRss:F0} ({lRss / fileMb:F2}×) |";
    }

    /// <summary>The fastest prompt pass and the fastest decode of several runs (they may come from different runs), and
    /// the largest peak RSS.</summary>
    private static GgufDecodeResult Best(List<GgufDecodeResult> runs) => runs[0] with
    {
        PromptSeconds = runs.Min(r => r.PromptSeconds),
        DecodeSeconds = runs.Min(r => r.DecodeSeconds),
        PeakRssKb = runs.Max(r => r.PeakRssKb),
    };

    /// <summary>/proc/loadavg's 1, 5 and 15-minute averages ("?" where there is none).</summary>
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    /// <summary>The stored types and how many tensors have each, e.g. "q4_K ×36, q5_0 ×6, f32 ×13".</summary>
    private static string Holds(GgufExportReport report) =>
        string.Join(", ", report.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Count()).Select(g => $"{g.Key.Name()} ×{g.Count()}"));

    /// <summary>Runs this program's gguf-decode-child mode in a new process and parses its result line.</summary>
    private static GgufDecodeResult Child(string impl, string model, int threads, int tokens, int prompt, string? kvCache, out float[] logits)
    {
        var logitsPath = model + $".{impl}.logits";
        var psi = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var host = Environment.ProcessPath ?? "dotnet";
        psi.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(typeof(GgufDecodeBench).Assembly.Location);
        foreach (var a in new[] { "gguf-decode-child", "--impl", impl, "--model", model, "--threads", $"{threads}", "--tokens", $"{tokens}",
                                  "--prompt", $"{prompt}", "--logits", logitsPath })
            psi.ArgumentList.Add(a);
        if (kvCache is not null)
        {
            psi.ArgumentList.Add("--kv-cache");
            psi.ArgumentList.Add(kvCache);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {host}");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        try
        {
            var line = stdout.Split('\n').LastOrDefault(x => x.StartsWith(GgufDecodeChild.Marker, StringComparison.Ordinal));
            if (p.ExitCode != 0 || line is null)
                throw new InvalidOperationException($"{impl} on {Path.GetFileName(model)} failed (exit {p.ExitCode}):\n{stdout}\n{stderr.Result}");
            var r = JsonSerializer.Deserialize<GgufDecodeResult>(line[GgufDecodeChild.Marker.Length..])!;
            logits = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(logitsPath)).ToArray();
            Console.WriteLine($"    {impl,-8}: prompt {r.PromptTokensPerSecond,8:F1} tok/s, decode {r.DecodeTokensPerSecond,8:F1} tok/s, peak RSS {r.PeakRssKb / 1024.0,7:F0} MiB ({r.Settings})");
            return r;
        }
        finally
        {
            File.Delete(logitsPath);
        }
    }

    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        return ab / Math.Sqrt(aa * bb);
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        double m = 0;
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
