using Engine.Formats;

namespace Engine.Tests.Formats;

/// <summary>Writes small llama2.c checkpoints in the orders of llama2.c export.py (legacy_export, version1_export) and
/// runq.c (version 2: each quantized tensor's int8 values followed by its fp32 group scales), with recognizable values:
/// element i of the k-th written tensor is k + i/1024 (exact in fp32); for version 2, q = i % 255 - 127 and every scale
/// of tensor k is (k + 1)/4. Returns what each HF-named tensor should read back as.</summary>
internal static class Llama2cFixtures
{
    public static Dictionary<string, float[]> Write(string path, Llama2cHeader h)
    {
        int L = h.NLayers, D = h.Dim, Hd = h.HiddenDim, KV = h.KvDim, V = h.VocabSize;
        var expected = new Dictionary<string, float[]>();
        using var w = new BinaryWriter(File.Create(path));
        int k = 0;

        void Fp32(string name, int n)
        {
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = k + i / 1024f;
            foreach (var x in v) w.Write(x);
            expected[name] = v;
            k++;
        }
        void Q8(string name, int n)
        {
            var v = new float[n];
            float scale = (k + 1) / 4f;
            for (int i = 0; i < n; i++)
            {
                sbyte q = (sbyte)(i % 255 - 127);
                w.Write(q);
                v[i] = q * scale;
            }
            for (int g = 0; g < n / h.GroupSize; g++) w.Write(scale);
            expected[name] = v;
            k++;
        }
        string Ly(int i, string rest) => $"model.layers.{i}.{rest}";
        void Each(Action<string, int> emit, string rest, int n) { for (int i = 0; i < L; i++) emit(Ly(i, rest), n); }

        if (h.Version == 0)
        {
            foreach (var x in new[] { D, Hd, L, h.NHeads, h.NKvHeads, h.SharedClassifier ? V : -V, h.SeqLen }) w.Write(x);
            Fp32("model.embed_tokens.weight", V * D);
            Each(Fp32, "input_layernorm.weight", D);
            Each(Fp32, "self_attn.q_proj.weight", D * D);
            Each(Fp32, "self_attn.k_proj.weight", KV * D);
            Each(Fp32, "self_attn.v_proj.weight", KV * D);
            Each(Fp32, "self_attn.o_proj.weight", D * D);
            Each(Fp32, "post_attention_layernorm.weight", D);
            Each(Fp32, "mlp.gate_proj.weight", Hd * D);
            Each(Fp32, "mlp.down_proj.weight", D * Hd);
            Each(Fp32, "mlp.up_proj.weight", Hd * D);
            Fp32("model.norm.weight", D);
            for (int i = 0; i < h.SeqLen * h.HeadSize; i++) w.Write(-999f); // legacy RoPE tables
            if (!h.SharedClassifier) Fp32("lm_head.weight", V * D);
            return expected;
        }

        w.Write(Llama2cHeader.Magic);
        w.Write(h.Version);
        foreach (var x in new[] { D, Hd, L, h.NHeads, h.NKvHeads, V, h.SeqLen }) w.Write(x);
        w.Write((byte)(h.SharedClassifier ? 1 : 0));
        if (h.Version == 2) w.Write(h.GroupSize);
        w.Write(new byte[256 - w.BaseStream.Position]);
        Each(Fp32, "input_layernorm.weight", D);
        Each(Fp32, "post_attention_layernorm.weight", D);
        Fp32("model.norm.weight", D);
        Action<string, int> mat = h.Version == 1 ? Fp32 : Q8;
        mat("model.embed_tokens.weight", V * D);
        Each(mat, "self_attn.q_proj.weight", D * D);
        Each(mat, "self_attn.k_proj.weight", KV * D);
        Each(mat, "self_attn.v_proj.weight", KV * D);
        Each(mat, "self_attn.o_proj.weight", D * D);
        Each(mat, "mlp.gate_proj.weight", Hd * D);
        Each(mat, "mlp.down_proj.weight", D * Hd);
        Each(mat, "mlp.up_proj.weight", Hd * D);
        if (!h.SharedClassifier) mat("lm_head.weight", V * D);
        return expected;
    }

    /// <summary>dim 8, hidden 12, 2 layers, 2 heads, 1 kv head (head size 4, kv_dim 4), vocab 10, seq_len 4.</summary>
    public static Llama2cHeader Small(int version, bool shared, int groupSize = 0) =>
        new(version, 8, 12, 2, 2, 1, 10, 4, shared, groupSize);
}
