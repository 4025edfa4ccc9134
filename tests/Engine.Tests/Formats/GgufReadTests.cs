using Engine.Formats;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Formats;

public class GgufReadTests
{
    [Fact]
    public void ReadsLlama2TinyRandom()
    {
        using var g = GgufFile.Open(SharedData.Require("gguf/llama-2-tiny-random.gguf"));
        Assert.Equal(3u, g.Version);
        Assert.Equal(32u, g.Alignment);
        Assert.Equal(18, g.Metadata.Count);
        Assert.Equal(12, g.Tensors.Count);
        Assert.Equal(724416, g.DataOffset); // header ends at 724398, rounded up to 32

        Assert.Equal("general.architecture", g.Metadata[0].Key);
        Assert.Equal("llama", g.GetString("general.architecture"));
        Assert.Equal("LLaMA v2", g.GetString("general.name"));
        Assert.Equal(8u, g.GetU32("llama.embedding_length"));
        Assert.Equal(1u, g.GetU32("llama.block_count"));
        Assert.Equal(32u, g.GetU32("llama.feed_forward_length"));
        Assert.Equal(2u, g.GetU32("llama.attention.head_count"));
        Assert.Equal(2u, g.GetU32("llama.attention.head_count_kv"));
        Assert.Equal(4u, g.GetU32("llama.rope.dimension_count"));
        Assert.Equal(4096u, g.GetU32("llama.context_length"));
        Assert.Equal(1e-5f, g.GetF32("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(1u, g.GetU32("general.file_type"));
        Assert.Equal("llama", g.GetString("tokenizer.ggml.model"));
        Assert.Equal(1, g.GetInteger("tokenizer.ggml.bos_token_id"));
        Assert.Equal(2u, g.GetU32("tokenizer.ggml.eos_token_id"));
        Assert.Equal(0u, g.GetU32("tokenizer.ggml.unknown_token_id"));

        var tokens = g.GetArray<string>("tokenizer.ggml.tokens");
        Assert.Equal(32000, tokens.Length);
        Assert.Equal(["<unk>", "<s>", "</s>"], tokens[..3]);
        Assert.Equal("<0x0A>", tokens[13]);
        Assert.Equal("▁▁", tokens[259]);
        Assert.Equal("▁The", tokens[450]);
        Assert.Equal("给", tokens[31999]);
        var scores = g.GetArray<float>("tokenizer.ggml.scores");
        Assert.Equal(32000, scores.Length);
        Assert.Equal(-191f, scores[450]);
        var types = g.GetArray<int>("tokenizer.ggml.token_type");
        Assert.Equal([2, 3, 3, 6, 6], types[..5]);
        Assert.Equal(1, types[259]);

        string[] names =
        [
            "token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
            "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "blk.0.attn_norm.weight",
            "blk.0.ffn_norm.weight", "output_norm.weight", "output.weight",
        ];
        Assert.Equal(names, g.Names);
        Assert.Equal([8L, 32000L], g.TensorInfo("token_embd.weight").Dims);
        Assert.Equal([32000, 8], g.Info("token_embd.weight").Shape);
        Assert.Equal(DType.F16, g.Info("token_embd.weight").DType);
        Assert.Null(g.Info("token_embd.weight").FileType);
        Assert.Equal([8, 8], g.Info("blk.0.attn_q.weight").Shape);
        Assert.Equal([32, 8], g.Info("blk.0.ffn_gate.weight").Shape);
        Assert.Equal([8, 32], g.Info("blk.0.ffn_down.weight").Shape);
        Assert.Equal([8], g.Info("output_norm.weight").Shape);
        Assert.Equal(DType.F32, g.Info("blk.0.attn_norm.weight").DType);
        Assert.Equal(GgmlType.F16, g.TensorInfo("output.weight").Type);
        Assert.Equal(514144, g.TensorInfo("output.weight").Offset);

        // Values read independently with Python struct.
        var q = new float[64];
        g.ReadFloats("blk.0.attn_q.weight", q);
        Assert.Equal([0.024261474609375f, 0.0196990966796875f, -0.0509033203125f], q[..3]);
        var down = new float[256];
        g.ReadFloats("blk.0.ffn_down.weight", down);
        Assert.Equal([0.0207366943359375f, -0.007080078125f], down[..2]);
        var norm = new float[8];
        g.ReadFloats("output_norm.weight", norm);
        Assert.All(norm, v => Assert.Equal(1f, v));
        var emb = new float[256000];
        g.ReadFloats("token_embd.weight", emb);
        Assert.Equal(0.00333404541015625f, emb[^1]);
        Assert.Equal(512000, g.ReadBytes("token_embd.weight").Length);
    }

    [Fact]
    public void ReadsVocabOnlyFileThatEndsRightAfterTheHeader()
    {
        using var g = GgufFile.Open(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf"));
        Assert.Equal(3u, g.Version);
        Assert.Empty(g.Tensors);
        Assert.Equal(22, g.Metadata.Count);
        Assert.Equal(32u, g.GetU32("llama.block_count"));
        Assert.Equal(4096u, g.GetU32("llama.embedding_length"));
        Assert.Equal(11008u, g.GetU32("llama.feed_forward_length"));
        Assert.Equal(32u, g.GetU32("llama.attention.head_count"));
        Assert.Equal(128u, g.GetU32("llama.rope.dimension_count"));
        Assert.Equal(32000u, g.GetU32("llama.vocab_size"));
        Assert.Equal("default", g.GetString("tokenizer.ggml.pre"));
        Assert.True(g.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.False(g.GetBool("tokenizer.ggml.add_eos_token"));
        Assert.Equal(32000, g.GetArray<string>("tokenizer.ggml.tokens").Length);
    }

    [Fact]
    public void MetadataAccessorsNameKeyAndTypes()
    {
        using var g = GgufFile.Open(SharedData.Require("gguf/llama-2-tiny-random.gguf"));
        var ex = Assert.Throws<FileFormatException>(() => g.GetU32("general.name"));
        Assert.Equal("metadata 'general.name'", ex.What);
        Assert.Contains("has type string; expected uint32", ex.Message);
        ex = Assert.Throws<FileFormatException>(() => g.GetString("llama.vocab_size"));
        Assert.Contains("'llama.vocab_size'", ex.Message);
        Assert.Contains("missing", ex.Message);
        ex = Assert.Throws<FileFormatException>(() => g.GetArray<int>("tokenizer.ggml.scores"));
        Assert.Contains("has type array of float32; expected array of int32", ex.Message);
        ex = Assert.Throws<FileFormatException>(() => g.GetF32("tokenizer.ggml.tokens"));
        Assert.Contains("array of string", ex.Message);
        Assert.False(g.TryGet<uint>("general.name", out _));
        Assert.True(g.TryGet<string>("general.name", out var name));
        Assert.Equal("LLaMA v2", name);
        Assert.False(g.TryGet("nope", out _));
        Assert.Throws<FileFormatException>(() => g.Info("blk.9.attn_q.weight"));
    }
}
