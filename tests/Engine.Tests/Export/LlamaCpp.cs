using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Engine.Tests.Export;

/// <summary>The real llama.cpp (the native build shipped in LLamaSharp.Backend.Cpu) as an independent judge of
/// exported files. Tests call <see cref="Open"/>, which skips with the loader's own words when the native library
/// cannot be loaded on this machine (missing glibc/libstdc++ symbols, no usable CPU variant).</summary>
internal static class LlamaCpp
{
    private static readonly object Gate = new();
    private static readonly StringBuilder Errors = new();
    private static readonly Lazy<string?> Unavailable = new(Probe);

    static LlamaCpp()
    {
        // Must be set before the first native call; llama.cpp's info logs would otherwise flood the test output.
        try
        {
            NativeLibraryConfig.All.WithLogCallback((level, message) =>
            {
                if (level is LLamaLogLevel.Error) lock (Gate) Errors.Append(message);
            });
        }
        catch (Exception) { } // already configured by an earlier load in this process
    }

    /// <summary>llama.cpp's error log lines so far (for assertion messages).</summary>
    public static string ErrorLog { get { lock (Gate) return Errors.ToString(); } }

    private static string? Probe()
    {
        try
        {
            NativeApi.llama_empty_call();
            return null;
        }
        catch (Exception e)
        {
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            return $"llama.cpp (LLamaSharp.Backend.Cpu) could not be loaded on this machine: {e.GetType().Name}: {e.Message}" +
                   (ReferenceEquals(inner, e) ? "" : $" ({inner.GetType().Name}: {inner.Message})");
        }
    }

    /// <summary>Loads a GGUF file into llama.cpp on the CPU: context 512, fp32 KV cache and no flash attention, so an
    /// fp32 model runs in fp32 throughout (llama.cpp's defaults would round K/V to f16).</summary>
    public static Session Open(string gguf, uint context = 512)
    {
        if (Unavailable.Value is string why) Assert.Skip(why);
        var p = new ModelParams(gguf)
        {
            ContextSize = context, BatchSize = context, UBatchSize = context, GpuLayerCount = 0, Threads = 1, BatchThreads = 1,
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, FlashAttention = false,
        };
        var weights = LLamaWeights.LoadFromFile(p);
        try { return new Session(weights, weights.CreateContext(p)); }
        catch { weights.Dispose(); throw; }
    }

    /// <summary>llama.cpp's own llama_model_quantize (what the llama-quantize tool runs) from
    /// <paramref name="input"/> to <paramref name="output"/>, no imatrix.</summary>
    /// <param name="fileType">llama_ftype (general.file_type) to produce.</param>
    /// <param name="pure">llama-quantize --pure: every quantized tensor in the ftype's default type, no mixture.</param>
    /// <param name="threads">llama-quantize's nthread.</param>
    public static void Quantize(string input, string output, uint fileType, bool pure = false, int threads = 1)
    {
        if (Unavailable.Value is string why) Assert.Skip(why);
        var p = LLamaModelQuantizeParams.Default();
        p.nthread = threads;
        p.ftype = (LLamaFtype)fileType;
        p.pure = pure;
        uint rc = NativeApi.llama_model_quantize(input, output, ref p);
        if (rc != 0) throw new InvalidOperationException($"llama_model_quantize returned {rc}: {ErrorLog}");
    }

    public sealed class Session : IDisposable
    {
        private readonly LLamaWeights _weights;
        private readonly LLamaContext _context;

        internal Session(LLamaWeights weights, LLamaContext context)
        {
            _weights = weights;
            _context = context;
        }

        public LLamaWeights Weights => _weights;

        /// <summary>Loads a LoRA adapter GGUF (llama_adapter_lora_init) and applies it alone to this context with
        /// <paramref name="scale"/> (llama.cpp multiplies it by the file's alpha / r).</summary>
        public void ApplyLora(string path, float scale = 1f)
        {
            var adapter = _weights.NativeHandle.LoadLoraFromFile(path);
            Span<(LoraAdapter, float)> list = [(adapter, scale)];
            _context.NativeHandle.SetLoraAdapters(list);
        }
        public int VocabSize => _weights.Vocab.Count;

        /// <summary>Logits [ids.Length × vocab] after each token of <paramref name="ids"/>, fed from position 0 with an
        /// empty KV cache, in batches of up to the context's batch size.</summary>
        public float[] Logits(IReadOnlyList<int> ids)
        {
            var h = _context.NativeHandle;
            h.MemoryClear(true);
            int v = VocabSize, batchSize = (int)_context.BatchSize;
            var result = new float[ids.Count * v];
            var batch = new LLamaBatch();
            for (int start = 0; start < ids.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, ids.Count - start);
                batch.Clear();
                for (int i = 0; i < n; i++) batch.Add(ids[start + i], start + i, LLamaSeqId.Zero, true);
                var r = h.Decode(batch);
                if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}: {ErrorLog}");
                for (int i = 0; i < n; i++) h.GetLogitsIth(i).CopyTo(result.AsSpan((start + i) * v, v));
            }
            return result;
        }

        /// <summary>Greedy decoding (argmax, lowest id on ties) of <paramref name="count"/> tokens after the prompt,
        /// without stopping at EOS; returns prompt + generated ids.</summary>
        public int[] Greedy(IReadOnlyList<int> prompt, int count)
        {
            var h = _context.NativeHandle;
            h.MemoryClear(true);
            var seq = new List<int>(prompt);
            var batch = new LLamaBatch();
            for (int i = 0; i < prompt.Count; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Count - 1);
            for (int step = 0; step < count; step++)
            {
                var r = h.Decode(batch);
                if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}: {ErrorLog}");
                var logits = h.GetLogitsIth(batch.TokenCount - 1);
                int best = 0;
                for (int k = 1; k < logits.Length; k++) if (logits[k] > logits[best]) best = k;
                seq.Add(best);
                batch.Clear();
                batch.Add(best, seq.Count - 1, LLamaSeqId.Zero, true);
            }
            return seq.ToArray();
        }

        /// <summary>llama.cpp's own tokenization of <paramref name="text"/> (BOS first when it adds one).</summary>
        public int[] Tokenize(string text, bool addBos) =>
            _weights.Tokenize(text, addBos, special: false, Encoding.UTF8).Select(t => (int)t).ToArray();

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }
    }
}
