namespace Engine.Bench;

public static class Program
{
    private static readonly Dictionary<string, (string Help, Func<string[], int> Run)> Benchmarks = new()
    {
        ["gemm"] = ("CPU SGEMM GFLOP/s on the model's shapes; optional thread counts, e.g. `gemm 1,2`", GemmBench.Run),
        ["model"] = ("CPU forward/decode/training tokens/s of stories260K and the stories15M shape (the cpu15m peer case)", ModelBench.Run),
        ["memory"] = ("model memory in bf16 vs NF4 vs NF4+DQ from real quantized tensors; appends to bench/RESULTS.md", a => MemoryBench.Run(a.Length > 0 ? a[0] : ResultsFile())),
        ["tokenizer"] = ("encode tokens/s of the Llama 3.1 / Qwen 3 tokenizer.json and Llama 2 tokenizer.model next to Microsoft.ML.Tokenizers; args: [shared/data] [repeat]", TokenizerBench.Run),
        ["gguf-decode"] = ("CPU decode and 512-token prompt tokens/s and peak RSS from GGUF blocks against llama.cpp (LLamaSharp 0.30.0), random-weight files per shape and type; args: [stories15m,llama2-7b] [f32,q8_0,q4_0,q4_k_m] [--threads N] [--tokens N] [--prompt N] [--repeat N]", GgufDecodeBench.Run),
        ["gguf-decode-child"] = ("one gguf-decode run in its own process: --impl engine|llamacpp --model X.gguf [--threads N] [--tokens N] [--prompt N] [--logits FILE]", GgufDecodeChild.Run),
        ["ggml-gemm"] = ("GFLOP/s of the CPU backend's many-row GGUF forward product per type, integer block GEMM vs dequantized tiles + SGEMM, alternating; args: [m] [rows] [cols] [types] [repeats] [threads] (512 2048 2048 q4_0,q8_0,q5_0,q4_K,q6_K 5 all; 1 thread times CPU time)", GgmlGemmBench.Run),
        ["ggml-gemv"] = ("GB/s of the CPU backend's GGUF GEMV (one activation row) per type at 1 and all threads; args: [rows] [cols] [types] (11008 4096 q4_0,q8_0,q4_K,q6_K,f32)", GgmlGemvBench.Run),
        ["kquant"] = ("single-thread GB/s of the k-quant x q8_K dot kernels (KQuantDot.DotRows) per type and ISA; args: [n] [rows] (4096 4096)", KQuantBench.Run),
        ["legacy-dot"] = ("single-thread GB/s of LegacyDot.DotRows (q4_0, q5_0, q8_0) on a cache-resident weight per dot ISA; args: [n] [rows] (4096 64)", LegacyDotBench.Run),
        ["parallel"] = ("cost of one CpuParallel.For dispatch with an empty body (decode's per-op floor); args: [calls] [threads] (20000 all)", ParallelBench.Run),
        ["nf4"] = ("NF4 (+double quant) quantize/dequantize speed on a 4096x11008 weight", _ => { Nf4Bench.Run(); return 0; }),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Benchmarks.TryGetValue(args[0], out var bench))
        {
            Console.WriteLine("usage: Engine.Bench <benchmark> [args]");
            foreach (var (name, (help, _)) in Benchmarks) Console.WriteLine($"  {name,-10} {help}");
            return args.Length == 0 ? 0 : 2;
        }
        return bench.Run(args[1..]);
    }

    /// <summary>bench/RESULTS.md of the checkout the bench is run from (searched upwards from the current folder).</summary>
    private static string ResultsFile()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "bench", "Engine.Bench"))) return Path.Combine(dir.FullName, "bench", "RESULTS.md");
        return "RESULTS.md";
    }
}
