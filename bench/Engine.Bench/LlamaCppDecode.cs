using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Engine.Bench;

/// <summary>llama.cpp's side of <see cref="GgufDecodeChild"/>, through LLamaSharp 0.30.0's CPU build: the file mapped
/// (llama.cpp's default), no GPU layers, context 1024 (more if prompt + decode need it), batch and micro-batch 512,
/// llama.cpp's default KV cache (f16) and flash-attention setting, <c>threads</c> for both Threads and BatchThreads.
/// The prompt is one llama_decode with logits for its last token only; each decode step is one llama_decode of one
/// token, as engine's loop does.</summary>
internal static class LlamaCppDecode
{
    public static (GgufDecodeResult Result, float[] PromptLogits) Run(string path, int threads, int[] prompt, int tokens)
    {
        // Before the first native call: llama.cpp's info logs would flood the child's output (errors go to stderr).
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level is LLamaLogLevel.Error) Console.Error.Write(message);
        });
        uint context = (uint)Math.Max(1024, prompt.Length + tokens);
        var p = new ModelParams(path)
        {
            ContextSize = context, BatchSize = 512, UBatchSize = 512, GpuLayerCount = 0, Threads = threads, BatchThreads = threads,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        var h = ctx.NativeHandle;
        var batch = new LLamaBatch();

        float[] Feed(ReadOnlySpan<int> ids, int start)
        {
            float[] last = [];
            for (int b = 0; b < ids.Length; b += 512)
            {
                int n = Math.Min(512, ids.Length - b);
                batch.Clear();
                for (int i = 0; i < n; i++) batch.Add(ids[b + i], start + b + i, LLamaSeqId.Zero, b + i == ids.Length - 1);
                var r = h.Decode(batch);
                if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}");
                if (b + n == ids.Length) last = h.GetLogitsIth(n - 1).ToArray();
            }
            return last;
        }

        var l = Feed(prompt.AsSpan(0, GgufDecodeChild.WarmupPrompt), 0);
        for (int i = 0; i < GgufDecodeChild.WarmupSteps; i++) l = Feed([GgufDecodeChild.Argmax(l)], GgufDecodeChild.WarmupPrompt + i);
        h.MemoryClear(true);

        var sw = Stopwatch.StartNew();
        var logits = Feed(prompt, 0);
        double promptSeconds = sw.Elapsed.TotalSeconds;
        var promptLogits = logits;
        var generated = new int[tokens];
        sw.Restart();
        for (int i = 0; i < tokens; i++)
        {
            generated[i] = GgufDecodeChild.Argmax(logits);
            logits = Feed([generated[i]], prompt.Length + i);
        }
        double decodeSeconds = sw.Elapsed.TotalSeconds;
        return (new GgufDecodeResult("llamacpp", threads, prompt.Length, promptSeconds, tokens, decodeSeconds, 0, generated,
            $"ctx {context}, batch 512, KV {p.TypeK?.ToString() ?? "default (f16)"}, flash attention {p.FlashAttention?.ToString() ?? "default"}, threads {threads}/{threads}"), promptLogits);
    }
}
