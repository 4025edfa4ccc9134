using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Checkpoints;

/// <summary>One tensor as written to an exported GGUF file.</summary>
/// <param name="Shape">PyTorch order ([rows, row length]); the file stores it reversed as ggml dims.</param>
internal readonly record struct GgufExportedTensor(string Name, GgmlType Type, int[] Shape, string SourceName);

/// <summary>What an export wrote: every tensor with its stored type, and notes on tensors that could not take the
/// requested type.</summary>
internal sealed record GgufExportReport(string Path, GgmlType Type, IReadOnlyList<GgufExportedTensor> Tensors, IReadOnlyList<string> Notes);

/// <summary>Writes a model as a GGUF v3 file that llama.cpp loads, as convert_hf_to_gguf.py converts its family:
/// Llama and Mistral as llama.cpp's "llama" architecture (q/k rows, and q/k biases, permuted from the model's HF
/// half-split RoPE order to the interleaved order that architecture rotates), Qwen 2 as "qwen2" and Qwen 3 as "qwen3"
/// (NeoX-style RoPE in llama.cpp, so no permutation); {arch}.* hyper-parameters, RoPE scaling (linear and yarn as
/// {arch}.rope.scaling.*, llama3 as the rope_freqs.weight tensor of per-dimension divisors), the SentencePiece
/// vocabulary as tokenizer.ggml.* ("llama" model), and the weights under llama.cpp's names.
/// A sliding window (Mistral v0.1, Qwen with use_sliding_window) is not written: llama.cpp's llama and qwen2
/// architectures have none and convert_hf_to_gguf.py drops it too; the report notes it. Storage types follow
/// <see cref="GgufTensorPolicy"/>; quantization is ggml's reference quantizers (<see cref="GgmlBlocks"/>), so the
/// bytes equal those of ggml's quantize_row_*_ref for the same fp32 input. Tensors are read, converted and written
/// one at a time, so peak extra memory is about one tensor.</summary>
internal static class GgufExporter
{
    /// <summary>ggml's GGML_QUANT_VERSION, written as general.quantization_version when any tensor is quantized.</summary>
    public const uint QuantizationVersion = 2;

    /// <param name="type">The type of the 2-D weights (norms stay F32; see <see cref="GgufTensorPolicy"/>).</param>
    /// <param name="name">general.name; default: the output file's name without extension.</param>
    public static GgufExportReport Export(LlamaModel model, ITokenizer tokenizer, GgmlType type, string outPath, string? name = null) =>
        Export(model, tokenizer, GgufQuantType.Of(type), outPath, name);

    /// <param name="quant">A named export type: llama-quantize's file type (general.file_type) and, unless pure, its
    /// per-tensor mixture (<see cref="GgufQuantMixture"/>).</param>
    /// <param name="name">general.name; default: the output file's name without extension.</param>
    public static GgufExportReport Export(LlamaModel model, ITokenizer tokenizer, GgufQuantType quant, string outPath, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(quant);
        ArgumentNullException.ThrowIfNull(model);
        return Export(model.Config, model.TiedEmbeddings, tokenizer, quant, outPath,
            hf => model.Parameters.TryGet(hf, out var t) ? t.Shape.ToArray() : null, // output.weight is absent when tied
            (hf, values) => model.Backend.ToFloats(model.Parameters[hf], values), name);
    }

    /// <summary>Writes a model whose weights are produced one tensor at a time, so that the whole model never has to
    /// be in memory (a benchmark's random 7B-shape file): the same file <see cref="Export(LlamaModel, ITokenizer,
    /// GgufQuantType, string, string?)"/> writes for a model holding those values.</summary>
    /// <param name="tiedEmbeddings">Whether token_embd.weight is also the output projection (no output.weight).</param>
    /// <param name="shapeOf">The PyTorch-order shape of an HF tensor name, or null for a tensor the model does not have.</param>
    /// <param name="fill">Fills the fp32 values of an HF tensor in engine's layout (half-split RoPE rows); called once
    /// per tensor, at write time, with an array of the tensor's size.</param>
    /// <param name="name">general.name; default: the output file's name without extension.</param>
    public static GgufExportReport Export(LlamaConfig c, bool tiedEmbeddings, ITokenizer tokenizer, GgufQuantType quant, string outPath,
        Func<string, int[]?> shapeOf, Action<string, float[]> fill, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(quant);
        var type = quant.BaseType;
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(shapeOf);
        ArgumentNullException.ThrowIfNull(fill);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        // An HF tokenizer may have fewer tokens than the model has rows (Qwen pads vocab_size); the rest are written
        // as [PAD{i}] unused tokens, as llama.cpp's converter does.
        if (tokenizer is HfTokenizer ? tokenizer.VocabSize > c.VocabSize : tokenizer.VocabSize != c.VocabSize)
            throw new EngineException($"cannot export {outPath}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {c.VocabSize}");

        var arch = c.Family.GgufArchitecture();
        RequireExportable(c, arch, outPath);
        var writer = new GgufWriter();
        var tensors = new List<GgufExportedTensor>();
        var notes = new List<string>();
        if (c.SlidingWindow is int window)
            notes.Add($"sliding_window {window} (from layer {c.FirstWindowLayer}) is not written: llama.cpp's {arch} architecture has no sliding-window " +
                      "attention (convert_hf_to_gguf.py drops it too), so llama.cpp attends to the whole context and differs beyond the window");
        bool permute = arch == "llama"; // llama.cpp's LLM_ARCH_LLAMA rotates adjacent pairs; qwen2/qwen3 use HF's NeoX layout
        var mixture = new GgufQuantMixture(quant, c);
        foreach (var (hf, gguf) in GgufNames.Map(c))
        {
            if (shapeOf(hf) is not int[] shape) continue;
            var stored = GgufTensorPolicy.Choose(gguf, shape, type, tiedEmbeddings, out var note, mixture);
            if (note is not null) notes.Add(note);
            int heads = !permute ? 0
                      : hf.EndsWith("q_proj.weight", StringComparison.Ordinal) || hf.EndsWith("q_proj.bias", StringComparison.Ordinal) ? c.NumHeads
                      : hf.EndsWith("k_proj.weight", StringComparison.Ordinal) || hf.EndsWith("k_proj.bias", StringComparison.Ordinal) ? c.NumKvHeads : 0;
            writer.AddTensor(gguf, stored, shape, s => WriteTensor(s, hf, fill, shape, stored, heads));
            tensors.Add(new GgufExportedTensor(gguf, stored, shape, hf));
        }
        if (c.RopeScaling is { Type: RopeScalingType.Llama3 })
        {
            var factors = RopeFrequencyFactors(c);
            writer.AddTensor(GgufNames.RopeFreqs, GgmlType.F32, [factors.Length], s => s.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(factors.AsSpan())));
            tensors.Add(new GgufExportedTensor(GgufNames.RopeFreqs, GgmlType.F32, [factors.Length], "rope_scaling"));
        }

        AddModelMetadata(writer, c, arch, quant.FileType, name ?? Path.GetFileNameWithoutExtension(outPath), tensors.Any(x => x.Type.IsQuantized()));
        AddTokenizerMetadata(writer, tokenizer, c.VocabSize);
        writer.Write(outPath);
        return new GgufExportReport(outPath, type, tensors, notes);
    }

    /// <summary>What engine computes but llama.cpp's architecture for the family cannot express, refused by the
    /// config.json field that asks for it.</summary>
    private static void RequireExportable(LlamaConfig c, string arch, string outPath)
    {
        if (c.RopeScaling is { Type: RopeScalingType.Llama3 } && arch != "llama")
            throw new EngineException($"cannot export {outPath}: rope_scaling.rope_type \"llama3\" is written as rope_freqs.weight, which llama.cpp's {arch} architecture does not read");
        if (c.RopeScaling is { Type: RopeScalingType.Yarn } y)
        {
            foreach (var (field, set) in new[]
                     {
                         ("attention_factor", y.AttentionFactor is not null), ("mscale", y.Mscale is not null), ("mscale_all_dim", y.MscaleAllDim is not null),
                         ("beta_fast", y.BetaFast is double bf && bf != 32), ("beta_slow", y.BetaSlow is double bs && bs != 1), ("truncate", !y.Truncate),
                     })
            {
                if (set) throw new EngineException($"cannot export {outPath}: rope_scaling.{field} is not exported to GGUF (llama.cpp would compute yarn with its defaults)");
            }
        }
        if (c.AttentionBias && arch == "qwen3") // llama.cpp refuses the file: its qwen3 loader expects no blk.N.attn_*.bias
            throw new EngineException($"cannot export {outPath}: attention_bias true: llama.cpp's qwen3 architecture has no attention biases");
    }

    /// <summary>llama.cpp's rope_freqs for rope_type llama3, as convert_hf_to_gguf.py computes them: per rotary pair the
    /// divisor of the unscaled frequency (1 for high frequencies, factor for low ones, smoothed between), i.e. the
    /// unscaled inverse frequency over the scaled one.</summary>
    public static float[] RopeFrequencyFactors(LlamaConfig c)
    {
        var plain = RopeScaling.DefaultInverseFrequencies(c.HeadDim, c.RopeTheta);
        var scaled = RopeScaling.InverseFrequencies(c.RopeScaling, c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings);
        return plain.Select((p, i) => (float)(p / scaled[i])).ToArray();
    }

    private static void WriteTensor(Stream s, string hfName, Action<string, float[]> fill, int[] shape, GgmlType stored, int ropeHeads)
    {
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        fill(hfName, values);
        // llama.cpp's LLM_ARCH_LLAMA rotates adjacent pairs, so q/k rows (and their biases) go back to the layout its
        // converter writes.
        if (ropeHeads > 0) RopeLayout.HalfToInterleaved<float>(values, shape[0], shape.Length > 1 ? shape[1] : 1, ropeHeads);
        var bytes = new byte[stored.RowSize(values.Length)];
        GgmlBlocks.Quantize(stored, values, bytes, shape[^1]);
        s.Write(bytes);
    }

    private static void AddModelMetadata(GgufWriter w, LlamaConfig c, string arch, uint fileType, string name, bool anyQuantized)
    {
        w.AddString("general.architecture", arch);
        w.AddString("general.name", name);
        w.AddU32("general.file_type", fileType);
        if (anyQuantized) w.AddU32("general.quantization_version", QuantizationVersion);
        w.AddU32($"{arch}.vocab_size", (uint)c.VocabSize);
        w.AddU32($"{arch}.context_length", (uint)c.MaxPositionEmbeddings);
        w.AddU32($"{arch}.embedding_length", (uint)c.HiddenSize);
        w.AddU32($"{arch}.block_count", (uint)c.NumLayers);
        w.AddU32($"{arch}.feed_forward_length", (uint)c.IntermediateSize);
        w.AddU32($"{arch}.rope.dimension_count", (uint)c.HeadDim);
        w.AddF32($"{arch}.rope.freq_base", c.RopeTheta);
        w.AddU32($"{arch}.attention.head_count", (uint)c.NumHeads);
        w.AddU32($"{arch}.attention.head_count_kv", (uint)c.NumKvHeads);
        w.AddF32($"{arch}.attention.layer_norm_rms_epsilon", c.RmsNormEps);
        // llama.cpp assumes head size = embedding / heads unless these say otherwise (as the HF converter writes them
        // for models with an explicit head_dim).
        if (c.HeadDim * c.NumHeads != c.HiddenSize)
        {
            w.AddU32($"{arch}.attention.key_length", (uint)c.HeadDim);
            w.AddU32($"{arch}.attention.value_length", (uint)c.HeadDim);
        }
        if (c.RopeScaling is { Type: RopeScalingType.Linear or RopeScalingType.Yarn } rs)
        {
            w.AddString($"{arch}.rope.scaling.type", rs.TypeName);
            w.AddF32($"{arch}.rope.scaling.factor", (float)rs.Factor);
            if (rs.Type == RopeScalingType.Yarn)
                w.AddU32($"{arch}.rope.scaling.original_context_length", (uint)(rs.OriginalMaxPositions ?? c.MaxPositionEmbeddings));
        }
    }

    private static void AddTokenizerMetadata(GgufWriter w, ITokenizer tok, int vocabSize)
    {
        if (tok is HfTokenizer hf)
        {
            AddBpeTokenizerMetadata(w, hf, vocabSize);
            return;
        }
        int n = tok.VocabSize;
        var tokens = new string[n];
        var scores = new float[n];
        var types = new int[n];
        for (int i = 0; i < n; i++)
        {
            tokens[i] = tok.IdToPiece(i);
            scores[i] = tok.Score(i);
            types[i] = (int)tok.Kind(i);
        }
        w.AddString("tokenizer.ggml.model", "llama");
        w.AddArray("tokenizer.ggml.tokens", tokens);
        w.AddArray("tokenizer.ggml.scores", scores);
        w.AddArray("tokenizer.ggml.token_type", types);
        void Id(string key, int id)
        {
            if (id >= 0) w.AddU32(key, (uint)id);
        }
        Id("tokenizer.ggml.bos_token_id", tok.BosId);
        Id("tokenizer.ggml.eos_token_id", tok.EosId);
        Id("tokenizer.ggml.unknown_token_id", tok.UnkId);
        Id("tokenizer.ggml.padding_token_id", tok.PadId);
        w.AddBool("tokenizer.ggml.add_bos_token", true);
        w.AddBool("tokenizer.ggml.add_eos_token", false);
        // The HF converter copies these two normalizer flags from tokenizer.model; a tokenizer that does not expose
        // them gets llama.cpp's SentencePiece defaults (prefix on, whitespace kept).
        if (tok is VocabularyTokenizer v)
        {
            w.AddBool("tokenizer.ggml.add_space_prefix", v.AddDummyPrefix);
            w.AddBool("tokenizer.ggml.remove_extra_whitespaces", v.RemoveExtraWhitespaces);
        }
    }

    /// <summary>An HF byte-level BPE tokenizer as llama.cpp's "gpt2" vocabulary: tokens, types, merges, the pre-tokenizer
    /// name of its Split regex, special ids, add_bos/add_eos and the chat template.</summary>
    private static void AddBpeTokenizerMetadata(GgufWriter w, HfTokenizer tok, int vocabSize)
    {
        if (!tok.IsByteLevel)
            throw new EngineException($"cannot export {tok.Source} to GGUF: only byte-level BPE tokenizer.json files (Llama 3, Qwen) are supported; for a SentencePiece-style one export with its tokenizer.model");
        string pre = (tok.SplitPattern is string p ? GgufPreTokenizers.NameOf(p) : null) ?? throw new EngineException(
            $"cannot export {tok.Source} to GGUF: its pre-tokenizer regex has no llama.cpp name engine knows (llama-bpe, qwen2, gpt-2)");
        var tokens = new string[vocabSize];
        var types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++)
        {
            if (i < tok.VocabSize)
            {
                tokens[i] = tok.IdToPiece(i);
                types[i] = (int)tok.Kind(i);
            }
            else
            {
                tokens[i] = $"[PAD{i}]";
                types[i] = (int)TokenKind.Unused;
            }
        }
        w.AddString("tokenizer.ggml.model", "gpt2");
        w.AddString("tokenizer.ggml.pre", pre);
        w.AddArray("tokenizer.ggml.tokens", tokens);
        w.AddArray("tokenizer.ggml.token_type", types);
        w.AddArray("tokenizer.ggml.merges", tok.Model.Merges.ToArray());
        if (tok.BosId >= 0) w.AddU32("tokenizer.ggml.bos_token_id", (uint)tok.BosId);
        if (tok.EosId >= 0) w.AddU32("tokenizer.ggml.eos_token_id", (uint)tok.EosId);
        if (tok.UnkId >= 0) w.AddU32("tokenizer.ggml.unknown_token_id", (uint)tok.UnkId);
        if (tok.PadId >= 0) w.AddU32("tokenizer.ggml.padding_token_id", (uint)tok.PadId);
        w.AddBool("tokenizer.ggml.add_bos_token", tok.AddBos);
        w.AddBool("tokenizer.ggml.add_eos_token", tok.AddEos);
        if (tok.ChatTemplate is string template) w.AddString("tokenizer.chat_template", template);
    }
}
