using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Engine.Formats;

/// <summary>A llama2.c model file (karpathy/llama2.c run.c / runq.c / export.py), exposed with Hugging Face Llama
/// tensor names and [out, in] shapes. Versions: 0 (legacy: 7-int header, fp32, legacy RoPE tables skipped), 1 ("ak42"
/// fp32 with a 256-byte header) and 2 ("ak42" Q8_0 groups, dequantized to fp32 on read). q/k rows stay in llama2.c's
/// interleaved RoPE layout (Checkpoints/RopeLayout converts it). The file size must match the header exactly.</summary>
internal sealed class Llama2cCheckpoint : ITensorSource
{
    private readonly MappedFile _file;
    private readonly Dictionary<string, Segment> _segments;
    private readonly List<string> _names;

    /// <summary>Where a tensor lives: fp32 values at Offset, or (version 2) int8 values at Offset and one fp32 scale
    /// per GroupSize values at ScalesOffset.</summary>
    private sealed record Segment(TensorEntry Entry, long Offset, long ScalesOffset);

    private Llama2cCheckpoint(MappedFile file, Llama2cHeader header, List<Segment> segments)
    {
        _file = file;
        Header = header;
        _segments = segments.ToDictionary(s => s.Entry.Name, StringComparer.Ordinal);
        _names = segments.Select(s => s.Entry.Name).ToList();
    }

    public string Path => _file.Path;
    public Llama2cHeader Header { get; }
    /// <summary>Names in file order.</summary>
    public IReadOnlyCollection<string> Names => _names;

    public static Llama2cCheckpoint Open(string path) => MappedFile.OpenWith(path, file =>
    {
        var header = ParseHeader(file);
        // The size comes from the header's numbers alone, before any per-layer list is built: a header that claims
        // 2^31-1 layers fails here at once instead of building billions of tensor names.
        long expectedSize = SizeOf(header, path);
        if (file.Length != expectedSize)
        {
            long diff = file.Length - expectedSize;
            throw new FileFormatException(path, "file size",
                $"expected {expectedSize} bytes for a version {header.Version} checkpoint with dim={header.Dim}, hidden_dim={header.HiddenDim}, "
                + $"n_layers={header.NLayers}, n_heads={header.NHeads}, n_kv_heads={header.NKvHeads}, vocab_size={header.VocabSize}, "
                + $"seq_len={header.SeqLen}, shared_classifier={header.SharedClassifier}, found {file.Length} "
                + (diff < 0 ? $"(truncated by {-diff} bytes)" : $"({diff} bytes too many)"));
        }
        var segments = Layout(header, path, out long layoutSize);
        if (layoutSize != expectedSize) throw new InvalidOperationException($"{path}: layout of {layoutSize} bytes disagrees with the header's {expectedSize}");
        return new Llama2cCheckpoint(file, header, segments);
    });

    /// <summary>The size in bytes a file with this header must have.</summary>
    public static long ExpectedFileSize(Llama2cHeader header) => SizeOf(header, "(header)");

    /// <summary>The file size the header implies, by arithmetic (no per-tensor lists), the same sum <see cref="Layout"/>
    /// makes tensor by tensor.</summary>
    private static long SizeOf(Llama2cHeader h, string path)
    {
        try
        {
            checked
            {
                long L = h.NLayers, D = h.Dim, H = h.HiddenDim, KV = h.KvDim, V = h.VocabSize;
                // Version 2 stores each matrix as int8 values plus one fp32 scale per group; 0 and 1 as fp32.
                long Matrix(long n) => h.Version == 2 ? n + n / h.GroupSize * 4 : n * 4;
                if (h.Version == 2)
                    foreach (var (name, n) in new[] { ("model.embed_tokens.weight", V * D), ("model.layers.0.self_attn.q_proj.weight", D * D),
                                 ("model.layers.0.self_attn.k_proj.weight", KV * D), ("model.layers.0.mlp.gate_proj.weight", H * D) })
                        if (n % h.GroupSize != 0) // the first tensor Layout would find, in file order
                            throw new FileFormatException(path, $"tensor '{name}'", $"{n} values are not a multiple of group_size {h.GroupSize}");
                long size = h.HeaderBytes + (2 * L * D + D) * 4 + Matrix(V * D)
                    + L * (2 * Matrix(D * D) + 2 * Matrix(KV * D) + 3 * Matrix(H * D));
                if (!h.SharedClassifier) size += Matrix(V * D);
                if (h.Version == 0) size += (long)h.SeqLen * h.HeadSize * 4;
                return size;
            }
        }
        catch (OverflowException)
        {
            throw new FileFormatException(path, "header", "its sizes imply a file of more than 2^63 bytes");
        }
    }

    public bool Contains(string name) => _segments.ContainsKey(name);
    public TensorEntry Info(string name) => Get(name).Entry;

    public void ReadFloats(string name, Span<float> dst)
    {
        var s = Get(name);
        long n = s.Entry.NumElements;
        if (dst.Length != n) throw new ArgumentException($"{Path}: tensor '{name}' has {n} elements; destination has {dst.Length}");
        if (s.ScalesOffset < 0)
        {
            _file.Check(s.Offset, n * 4, $"tensor '{name}'");
            for (int start = 0; start < dst.Length; start += MappedFile.ChunkElements)
            {
                int c = Math.Min(MappedFile.ChunkElements, dst.Length - start);
                MemoryMarshal.Cast<byte, float>(_file.CheckedSpan(s.Offset + start * 4L, c * 4)).CopyTo(dst.Slice(start, c));
            }
            return;
        }
        int gs = Header.GroupSize;
        var q = MemoryMarshal.Cast<byte, sbyte>(_file.Span(s.Offset, n, $"tensor '{name}' values"));
        var scales = MemoryMarshal.Cast<byte, float>(_file.Span(s.ScalesOffset, n / gs * 4, $"tensor '{name}' scales"));
        // runq.c dequantize(): x[i] = q[i] * s[i / GS]; groups run over the flattened tensor.
        for (int g = 0; g < scales.Length; g++)
        {
            float sc = scales[g];
            int b = g * gs;
            for (int j = 0; j < gs; j++) dst[b + j] = q[b + j] * sc;
        }
    }

    /// <summary>The fp32 bytes: a view of the file for versions 0 and 1, a freshly dequantized copy for version 2.</summary>
    public ReadOnlySpan<byte> ReadBytes(string name)
    {
        var s = Get(name);
        if (s.ScalesOffset < 0) return _file.Span(s.Offset, s.Entry.NumElements * 4, $"tensor '{name}'");
        var values = new float[s.Entry.NumElements];
        ReadFloats(name, values);
        return MemoryMarshal.AsBytes(values.AsSpan());
    }

    public void Dispose() => _file.Dispose();

    private Segment Get(string name) =>
        _segments.TryGetValue(name, out var s) ? s : throw new FileFormatException(Path, $"tensor '{name}'", "is not in this checkpoint");

    private static Llama2cHeader ParseHeader(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 28)
            throw new FileFormatException(path, "header", $"the file is {file.Length} bytes; a llama2.c checkpoint has at least a 28-byte header");
        var head = file.Span(0, Math.Min(file.Length, 256), "header").ToArray();
        int I(int offset) => BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(offset));

        Llama2cHeader h;
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) == Llama2cHeader.Magic)
        {
            if (file.Length < 256)
                throw new FileFormatException(path, "header", $"the file is {file.Length} bytes; a versioned llama2.c checkpoint has a 256-byte header");
            int version = I(4);
            if (version is not (1 or 2))
                throw new FileFormatException(path, "header.version", $"is {version}; supported versions are 0 (legacy), 1 and 2");
            byte shared = head[36];
            if (shared > 1) throw new FileFormatException(path, "header.shared_classifier", $"is {shared}; expected 0 or 1");
            int groupSize = version == 2 ? I(37) : 0;
            h = new Llama2cHeader(version, I(8), I(12), I(16), I(20), I(24), I(28), I(32), shared == 1, groupSize);
            if (h.VocabSize <= 0) throw new FileFormatException(path, "header.vocab_size", $"must be positive in version {version} files, got {h.VocabSize}");
            if (version == 2 && groupSize <= 0) throw new FileFormatException(path, "header.group_size", $"must be positive, got {groupSize}");
        }
        else
        {
            int vocab = I(20);
            if (vocab == int.MinValue) throw new FileFormatException(path, "header.vocab_size", "is out of range");
            h = new Llama2cHeader(0, I(0), I(4), I(8), I(12), I(16), Math.Abs(vocab), I(24), SharedClassifier: vocab > 0);
        }
        Validate(path, h);
        return h;
    }

    private static void Validate(string path, Llama2cHeader h)
    {
        void Positive(string field, int v)
        {
            if (v <= 0) throw new FileFormatException(path, $"header.{field}", $"must be positive, got {v}");
        }
        Positive("dim", h.Dim);
        Positive("hidden_dim", h.HiddenDim);
        Positive("n_layers", h.NLayers);
        Positive("n_heads", h.NHeads);
        Positive("n_kv_heads", h.NKvHeads);
        Positive("vocab_size", h.VocabSize);
        Positive("seq_len", h.SeqLen);
        if (h.Dim % h.NHeads != 0)
            throw new FileFormatException(path, "header.n_heads", $"{h.NHeads} does not divide dim {h.Dim}");
        if (h.NHeads % h.NKvHeads != 0)
            throw new FileFormatException(path, "header.n_kv_heads", $"{h.NKvHeads} does not divide n_heads {h.NHeads}");
        if (h.HeadSize % 2 != 0)
            throw new FileFormatException(path, "header.n_heads", $"head size dim/n_heads = {h.HeadSize} is odd; RoPE needs an even head size");
    }

    /// <summary>The tensors in file order with their offsets, following run.c memory_map_weights (version 0),
    /// export.py version1_export, and runq.c memory_map_weights (version 2).</summary>
    private static List<Segment> Layout(Llama2cHeader h, string path, out long fileSize)
    {
        int L = h.NLayers, D = h.Dim, H = h.HiddenDim, KV = h.KvDim, V = h.VocabSize;
        var norms = new List<(string, int[])>();
        var matrices = new List<(string, int[])>();
        string Layer(int i, string rest) => $"model.layers.{i}.{rest}";
        for (int i = 0; i < L; i++) norms.Add((Layer(i, "input_layernorm.weight"), [D]));
        for (int i = 0; i < L; i++) norms.Add((Layer(i, "post_attention_layernorm.weight"), [D]));
        norms.Add(("model.norm.weight", [D]));
        matrices.Add(("model.embed_tokens.weight", [V, D]));
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "self_attn.q_proj.weight"), [D, D]));
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "self_attn.k_proj.weight"), [KV, D]));
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "self_attn.v_proj.weight"), [KV, D]));
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "self_attn.o_proj.weight"), [D, D]));
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "mlp.gate_proj.weight"), [H, D])); // w1
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "mlp.down_proj.weight"), [D, H])); // w2
        for (int i = 0; i < L; i++) matrices.Add((Layer(i, "mlp.up_proj.weight"), [H, D]));   // w3
        if (!h.SharedClassifier) matrices.Add(("lm_head.weight", [V, D]));

        var segments = new List<Segment>();
        long offset = h.HeaderBytes;
        void Fp32((string Name, int[] Shape) t)
        {
            var e = new TensorEntry(t.Name, t.Shape, Tensors.DType.F32);
            segments.Add(new Segment(e, offset, -1));
            offset = checked(offset + e.NumElements * 4);
        }

        try
        {
            checked
            {
                if (h.Version == 0)
                {
                    // Legacy order interleaves norms with the matrices: emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final.
                    var byName = norms.Concat(matrices).ToDictionary(t => t.Item1, t => t);
                    var order = new List<string> { "model.embed_tokens.weight" };
                    void Each(string rest) { for (int i = 0; i < L; i++) order.Add(Layer(i, rest)); }
                    Each("input_layernorm.weight");
                    Each("self_attn.q_proj.weight");
                    Each("self_attn.k_proj.weight");
                    Each("self_attn.v_proj.weight");
                    Each("self_attn.o_proj.weight");
                    Each("post_attention_layernorm.weight");
                    Each("mlp.gate_proj.weight");
                    Each("mlp.down_proj.weight");
                    Each("mlp.up_proj.weight");
                    order.Add("model.norm.weight");
                    foreach (var name in order) Fp32(byName[name]);
                    offset += (long)h.SeqLen * h.HeadSize * 4; // legacy freq_cis_real + freq_cis_imag, seq_len·head_size/2 each
                    if (!h.SharedClassifier) Fp32(byName["lm_head.weight"]);
                }
                else if (h.Version == 1)
                {
                    foreach (var t in norms) Fp32(t);
                    foreach (var t in matrices) Fp32(t);
                }
                else
                {
                    foreach (var t in norms) Fp32(t);
                    foreach (var (name, shape) in matrices)
                    {
                        var e = new TensorEntry(name, shape, Tensors.DType.F32);
                        long n = e.NumElements;
                        if (n % h.GroupSize != 0)
                            throw new FileFormatException(path, $"tensor '{name}'", $"{n} values are not a multiple of group_size {h.GroupSize}");
                        segments.Add(new Segment(e, offset, offset + n));
                        offset += n + n / h.GroupSize * 4;
                    }
                }
            }
        }
        catch (OverflowException)
        {
            throw new FileFormatException(path, "header", "its sizes imply a file of more than 2^63 bytes");
        }
        fileSize = offset;
        return segments;
    }
}
