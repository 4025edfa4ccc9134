using System.Runtime.InteropServices;
using System.Text.Json;

namespace Engine.Bench;

/// <summary>What one child run measured: the prompt pass (one forward of <see cref="PromptTokens"/> ids) and
/// <see cref="DecodeTokens"/> greedy single-token steps after it, timed separately, and the process's peak resident set
/// (VmHWM, which counts the mapped model file's resident pages as well as the heap).</summary>
/// <param name="Generated">The greedy ids (argmax, lowest id on ties) after the prompt.</param>
/// <param name="KvCache">The KV cache's element type (f16, q8_0, ...).</param>
internal sealed record GgufDecodeResult(string Impl, int Threads, int PromptTokens, double PromptSeconds, int DecodeTokens,
    double DecodeSeconds, long PeakRssKb, int[] Generated, string Settings, string KvCache = "f16")
{
    public double PromptTokensPerSecond => PromptTokens / PromptSeconds;
    public double DecodeTokensPerSecond => DecodeTokens / DecodeSeconds;
}

/// <summary><c>gguf-decode-child --impl engine|llamacpp|reference --model X.gguf --threads N --tokens N --prompt 512
/// [--logits FILE] [--kv-cache auto|f32|f16|q8_0]</c>: one implementation in a process of its own, so that its peak RSS is its own. Both sides get
/// the same prompt (seeded random ids), the same warm-up (a 32-token prompt and 4 decode steps on a separate cache),
/// then the timed prompt pass and decode steps. Prints one line, <see cref="Marker"/> followed by the
/// <see cref="GgufDecodeResult"/> as JSON; --logits writes the fp32 logits after the prompt (for the parent's
/// engine-vs-llama.cpp comparison). <c>reference</c> is engine with fp32 products on the dequantized weights and an fp32
/// cache (<see cref="EngineDecode.Run"/>): the same file's math without 8-bit activations or f16 keys and values.</summary>
internal static class GgufDecodeChild
{
    public const string Marker = "GGUF-DECODE-RESULT ";
    public const int WarmupPrompt = 32, WarmupSteps = 4;

    public static int Run(string[] args)
    {
        string? impl = null, model = null, logitsPath = null;
        string kvCache = "auto";
        int threads = Environment.ProcessorCount, tokens = 128, prompt = 512;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--impl": impl = Value(); break;
                case "--model": model = Value(); break;
                case "--threads": threads = int.Parse(Value()); break;
                case "--tokens": tokens = int.Parse(Value()); break;
                case "--prompt": prompt = int.Parse(Value()); break;
                case "--logits": logitsPath = Value(); break;
                case "--kv-cache": kvCache = Value(); break;
                default: throw new ArgumentException($"gguf-decode-child: unknown argument {args[i]}");
            }
        }
        if (model is null) throw new ArgumentException("gguf-decode-child: --model is required");
        var ids = PromptIds(prompt, vocab: 32000);
        var (result, logits) = impl switch
        {
            "engine" => EngineDecode.Run(model, threads, ids, tokens, kvCache),
            "reference" => EngineDecode.Run(model, threads, ids, tokens, "f32", floatProducts: true),
            "llamacpp" => kvCache == "auto" ? LlamaCppDecode.Run(model, threads, ids, tokens)
                : throw new ArgumentException($"gguf-decode-child: --kv-cache is engine's option; llama.cpp runs with its default f16 cache, got {kvCache}"),
            _ => throw new ArgumentException($"gguf-decode-child: --impl engine, llamacpp or reference, got {impl}"),
        };
        result = result with { PeakRssKb = PeakRssKb() };
        if (logitsPath is not null) File.WriteAllBytes(logitsPath, MemoryMarshal.AsBytes(logits.AsSpan()).ToArray());
        Console.WriteLine(Marker + JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>The prompt both sides feed: seeded random ids in [3, vocab) (no BOS/EOS/UNK).</summary>
    public static int[] PromptIds(int count, int vocab)
    {
        var rng = new Random(20261206);
        return Enumerable.Range(0, count).Select(_ => rng.Next(3, vocab)).ToArray();
    }

    /// <summary>Greedy choice: the highest logit, the lowest id on ties.</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int k = 1; k < logits.Length; k++) if (logits[k] > logits[best]) best = k;
        return best;
    }

    /// <summary>Resident anonymous memory in transparent huge pages (KiB) from /proc/self/smaps_rollup; -1 where there is none.</summary>
    public static long AnonHugePagesKb()
    {
        const string rollup = "/proc/self/smaps_rollup";
        if (!File.Exists(rollup)) return -1;
        foreach (var line in File.ReadLines(rollup))
            if (line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                return long.Parse(line["AnonHugePages:".Length..].Trim().Split(' ')[0]);
        return -1;
    }

    /// <summary>VmHWM (peak resident set, KiB) of this process from /proc/self/status; -1 where there is none.</summary>
    public static long PeakRssKb()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return -1;
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0]);
        }
        return -1;
    }
}
