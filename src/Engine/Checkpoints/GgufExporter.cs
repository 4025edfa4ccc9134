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

/// <summary>Writes a Llama model as a GGUF v3 file that llama.cpp loads: llama.* hyper-parameters, the SentencePiece
/// vocabulary as tokenizer.ggml.* ("llama" model), and the weights under llama.cpp's names with q/k rows permuted from
/// the model's HF half-split RoPE order to GGUF's interleaved order. Storage types follow
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
        var type = quant.BaseType;
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        var c = model.Config;
        if (tokenizer.VocabSize != c.VocabSize)
            throw new EngineException($"cannot export {outPath}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary is {c.VocabSize}");

        var writer = new GgufWriter();
        var tensors = new List<GgufExportedTensor>();
        var notes = new List<string>();
        var mixture = new GgufQuantMixture(quant, c);
        foreach (var (hf, gguf) in GgufNames.Map(c))
        {
            if (!model.Parameters.TryGet(hf, out var t)) continue; // output.weight is absent when tied
            var shape = t.Shape.ToArray();
            var stored = GgufTensorPolicy.Choose(gguf, shape, type, model.TiedEmbeddings, out var note, mixture);
            if (note is not null) notes.Add(note);
            int heads = hf.EndsWith("q_proj.weight", StringComparison.Ordinal) ? c.NumHeads
                      : hf.EndsWith("k_proj.weight", StringComparison.Ordinal) ? c.NumKvHeads : 0;
            writer.AddTensor(gguf, stored, shape, s => WriteTensor(s, model, t, shape, stored, heads));
            tensors.Add(new GgufExportedTensor(gguf, stored, shape, hf));
        }

        AddModelMetadata(writer, c, quant.FileType, name ?? Path.GetFileNameWithoutExtension(outPath), tensors.Any(x => x.Type.IsQuantized()));
        AddTokenizerMetadata(writer, tokenizer);
        writer.Write(outPath);
        return new GgufExportReport(outPath, type, tensors, notes);
    }

    private static void WriteTensor(Stream s, LlamaModel model, Tensor t, int[] shape, GgmlType stored, int ropeHeads)
    {
        var values = new float[t.NumElements];
        model.Backend.ToFloats(t, values);
        // llama.cpp's LLM_ARCH_LLAMA rotates adjacent pairs, so q/k rows go back to the layout its converter writes.
        if (ropeHeads > 0) RopeLayout.HalfToInterleaved<float>(values, shape[0], shape[1], ropeHeads);
        var bytes = new byte[stored.RowSize(values.Length)];
        GgmlBlocks.Quantize(stored, values, bytes, shape[^1]);
        s.Write(bytes);
    }

    private static void AddModelMetadata(GgufWriter w, LlamaConfig c, uint fileType, string name, bool anyQuantized)
    {
        w.AddString("general.architecture", "llama");
        w.AddString("general.name", name);
        w.AddU32("general.file_type", fileType);
        if (anyQuantized) w.AddU32("general.quantization_version", QuantizationVersion);
        w.AddU32("llama.vocab_size", (uint)c.VocabSize);
        w.AddU32("llama.context_length", (uint)c.MaxPositionEmbeddings);
        w.AddU32("llama.embedding_length", (uint)c.HiddenSize);
        w.AddU32("llama.block_count", (uint)c.NumLayers);
        w.AddU32("llama.feed_forward_length", (uint)c.IntermediateSize);
        w.AddU32("llama.rope.dimension_count", (uint)c.HeadDim);
        w.AddF32("llama.rope.freq_base", c.RopeTheta);
        w.AddU32("llama.attention.head_count", (uint)c.NumHeads);
        w.AddU32("llama.attention.head_count_kv", (uint)c.NumKvHeads);
        w.AddF32("llama.attention.layer_norm_rms_epsilon", c.RmsNormEps);
        // llama.cpp assumes head size = embedding / heads unless these say otherwise (as the HF converter writes them
        // for models with an explicit head_dim).
        if (c.HeadDim * c.NumHeads != c.HiddenSize)
        {
            w.AddU32("llama.attention.key_length", (uint)c.HeadDim);
            w.AddU32("llama.attention.value_length", (uint)c.HeadDim);
        }
    }

    private static void AddTokenizerMetadata(GgufWriter w, ITokenizer tok)
    {
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
}
