using Engine.Backends;
using Engine.Formats;
using Engine.Models;
using Engine.Nn;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>How to place a model's weights on a backend.</summary>
internal sealed record WeightOptions
{
    /// <summary>Which parameters train (fp32, RequiresGrad); the rest are frozen. Null: none train.</summary>
    public Func<string, bool>? Trainable { get; init; }
    /// <summary>The dtype of frozen weights; null means the backend's activation type (f32 on the CPU, bf16 on CUDA).
    /// Norm weights stay fp32 either way.</summary>
    public DType? FrozenDType { get; init; }
    /// <summary>True when the source stores q/k rows in the interleaved RoPE order (llama2.c, GGUF): they are
    /// permuted to HF's half-split order on load.</summary>
    public bool InterleavedRope { get; init; }
    /// <summary>Quantize the frozen projections of every layer to NF4 while loading (QLoRA's base); null keeps them
    /// dense. Projections a checkpoint already stores in NF4 load as NF4 either way.</summary>
    public Nf4Options? Nf4 { get; init; }
    /// <summary>Keep frozen projections, the embedding and the LM head that a GGUF file stores in a ggml block type
    /// (q8_0, q4_0, …, the k-quants) in that form, when the backend multiplies with them
    /// (<see cref="IBackend.SupportsGgmlWeights"/>); otherwise they are dequantized on load.</summary>
    public bool KeepGgmlBlocks { get; init; }
    /// <summary>Where kept GGUF weights live (see <see cref="GgmlPlacement"/>).</summary>
    public GgmlPlacement GgmlPlacement { get; init; } = GgmlPlacement.HostMemory;
}

/// <summary>How to quantize projections to NF4: bitsandbytes' defaults (blocks of 64, double quantization on).</summary>
internal sealed record Nf4Options(bool DoubleQuant = true, int BlockSize = 64);

/// <summary>Creates a Llama model's <see cref="ParameterSet"/>: from a checkpoint (names and shapes checked) or
/// randomly initialised as transformers does (normal(0, 0.02) for matrices, ones for norms) from a seed.</summary>
internal static class LlamaWeights
{
    /// <summary>Every tensor a checkpoint of the config's family must hold, with its [out, in] shape: Llama's nine per
    /// layer, plus the projection biases the family has (<see cref="LlamaConfig.HasBias"/>) and Qwen 3's q/k norms.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Expected(LlamaConfig c)
    {
        int d = c.HiddenSize;
        yield return (LlamaNames.Embed, new[] { c.VocabSize, d });
        for (int i = 0; i < c.NumLayers; i++)
        {
            yield return (LlamaNames.AttnNorm(i), new[] { d });
            foreach (var (shortName, _) in LlamaNames.Projections)
            {
                var shape = ProjectionShape(c, shortName);
                yield return (LlamaNames.ProjectionWeight(i, shortName), shape);
                if (c.HasBias(shortName)) yield return (LlamaNames.ProjectionBias(i, shortName), new[] { shape[0] });
                if (shortName == "o_proj")
                {
                    if (c.HasQkNorm)
                    {
                        yield return (LlamaNames.QNorm(i), new[] { c.HeadDim });
                        yield return (LlamaNames.KNorm(i), new[] { c.HeadDim });
                    }
                    yield return (LlamaNames.FfnNorm(i), new[] { d });
                }
            }
        }
        yield return (LlamaNames.FinalNorm, new[] { d });
        if (!c.TieWordEmbeddings) yield return (LlamaNames.LmHead, new[] { c.VocabSize, d });
    }

    /// <summary>[out, in] of a projection.</summary>
    public static int[] ProjectionShape(LlamaConfig c, string shortName) => shortName switch
    {
        "q_proj" => [c.QDim, c.HiddenSize],
        "k_proj" or "v_proj" => [c.KvDim, c.HiddenSize],
        "o_proj" => [c.HiddenSize, c.QDim],
        "gate_proj" or "up_proj" => [c.IntermediateSize, c.HiddenSize],
        "down_proj" => [c.HiddenSize, c.IntermediateSize],
        _ => throw new ArgumentException($"unknown projection {shortName}"),
    };

    public static bool IsBias(string name) => name.EndsWith(".bias", StringComparison.Ordinal);

    public static bool IsNorm(string name) => name.EndsWith("norm.weight", StringComparison.Ordinal);

    private static DType PlacementType(string name, IBackend be, WeightOptions o, out bool trainable)
    {
        trainable = o.Trainable?.Invoke(name) ?? false;
        if (trainable || IsNorm(name)) return DType.F32;
        return o.FrozenDType ?? be.ActivationType;
    }

    /// <summary>Dense weights only: every tensor of the checkpoint as a parameter (see <see cref="LoadModel"/> for
    /// NF4 projections).</summary>
    public static ParameterSet Load(ITensorSource src, LlamaConfig c, IBackend be, WeightOptions o)
    {
        using var arena = new HostArena(); // unused: nothing is kept in blocks here
        var (set, _, _) = LoadParts(src, c, be, o with { Nf4 = null, KeepGgmlBlocks = false }, allowQuantized: false, arena);
        return set;
    }

    /// <summary>The model of a checkpoint. Projections stored as bitsandbytes NF4 (<c>.weight.quant_state.*</c>)
    /// load as <see cref="Nf4Linear"/> without ever being dequantized; with <see cref="WeightOptions.Nf4"/> set, dense
    /// projections are quantized one by one as they are read, so no dense copy of them reaches the backend.</summary>
    public static LlamaModel LoadModel(ITensorSource src, LlamaConfig c, IBackend be, WeightOptions o)
    {
        var arena = new HostArena();
        var (set, projections, embedding) = LoadParts(src, c, be, o, allowQuantized: true, arena);
        try
        {
            var model = new LlamaModel(c, be, set, projections, embedding);
            model.Owned.Add(arena); // after the weights taken from it: the model disposes in order
            return model;
        }
        catch
        {
            set.Dispose();
            foreach (var p in projections.Values) (p as IDisposable)?.Dispose();
            embedding?.Dispose();
            arena.Dispose();
            throw;
        }
    }

    private static (ParameterSet, Dictionary<string, ILinear>, GgmlWeight?) LoadParts(ITensorSource src, LlamaConfig c, IBackend be, WeightOptions o, bool allowQuantized,
        HostArena arena)
    {
        var set = new ParameterSet();
        var projections = new Dictionary<string, ILinear>();
        GgmlWeight? packedEmbedding = null;
        try
        {
            RefuseUnexplained(src, c);
            foreach (var (name, shape) in Expected(c))
            {
                bool projection = IsProjection(name);
                if (projection && src.Contains(name[..^"weight".Length] + Nf4BnbState.QuantStateName))
                {
                    if (!allowQuantized) throw new FileFormatException(src.Path, name, "is stored NF4-quantized; load the model through ModelLoader");
                    if (o.Trainable?.Invoke(name) ?? false)
                        throw new EngineException($"{src.Path}: {name} is NF4-quantized and cannot be trained (use --mode qlora or lora, or a dense checkpoint)");
                    projections[name] = LoadBnb(src, name, shape, be);
                    continue;
                }
                if (!src.Contains(name))
                {
                    if (name == LlamaNames.LmHead) throw new FileFormatException(src.Path, name,
                        "missing (config.json says tie_word_embeddings is false; set it true if the model shares its embedding)");
                    throw new FileFormatException(src.Path, name, "tensor missing from the checkpoint");
                }
                var info = src.Info(name);
                if (!info.Shape.AsSpan().SequenceEqual(shape))
                    throw new FileFormatException(src.Path, name,
                        $"shape [{string.Join(", ", info.Shape)}] does not match the config's [{string.Join(", ", shape)}]");
                RequireFloatType(src.Path, info);
                var dtype = PlacementType(name, be, o, out bool trainable);
                if (!trainable && (projection || name is LlamaNames.Embed or LlamaNames.LmHead) && o.KeepGgmlBlocks && be.SupportsGgmlWeights
                    && KeptType(src, info) is GgmlType blockType)
                {
                    var packed = GgmlBlockWeights.Open(src, name, blockType, shape, o.InterleavedRope && IsRotated(name, out int h) ? h : 0, o.GgmlPlacement, arena);
                    if (name == LlamaNames.Embed) packedEmbedding = packed;
                    else projections[name] = new GgmlLinear(packed);
                    continue;
                }
                var data = new float[info.NumElements];
                src.ReadFloats(name, data);
                RequireFinite(src.Path, name, data);
                if (o.InterleavedRope && IsRotated(name, out int heads))
                    RopeLayout.InterleavedToHalf<float>(data, shape[0], shape.Length > 1 ? shape[1] : 1, heads);
                if (projection && o.Nf4 is { } nf4 && !trainable)
                {
                    var bits = new ushort[data.Length];
                    HalfConversions.FloatToBF16(data, bits);
                    projections[name] = Nf4Linear.Upload(be, Nf4Weight.QuantizeBf16(bits, shape[0], shape[1], nf4.DoubleQuant, nf4.BlockSize));
                    continue;
                }
                var t = TensorScope.Unscoped(() => be.FromFloats(data, new Shape(shape), dtype));
                t.RequiresGrad = trainable;
                set.Add(name, t);
            }
            return (set, projections, packedEmbedding);
        }
        catch
        {
            set.Dispose();
            foreach (var p in projections.Values) (p as IDisposable)?.Dispose();
            packedEmbedding?.Dispose();
            throw;
        }

        bool IsRotated(string name, out int heads)
        {
            heads = name.EndsWith("q_proj.weight", StringComparison.Ordinal) || name.EndsWith("q_proj.bias", StringComparison.Ordinal) ? c.NumHeads
                  : name.EndsWith("k_proj.weight", StringComparison.Ordinal) || name.EndsWith("k_proj.bias", StringComparison.Ordinal) ? c.NumKvHeads : 0;
            return heads > 0;
        }
    }

    /// <summary>Refuses tensors that would change the model's function if they were dropped: biases and q/k norms the
    /// config's family does not have, and a separate lm_head that differs from the embedding while config.json ties
    /// the two.</summary>
    private static void RefuseUnexplained(ITensorSource src, LlamaConfig c)
    {
        var expected = Expected(c).Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var n in src.Names)
        {
            if (expected.Contains(n)) continue;
            if (IsBias(n))
                throw new FileFormatException(src.Path, n,
                    $"bias tensors are not part of this {c.Family.Architecture()} (config.json: {BiasFields(c)})");
            if (n.EndsWith("q_norm.weight", StringComparison.Ordinal) || n.EndsWith("k_norm.weight", StringComparison.Ordinal))
                throw new FileFormatException(src.Path, n, $"q/k norms are part of Qwen3ForCausalLM, not {c.Family.Architecture()}");
        }
        if (!c.TieWordEmbeddings || !src.Contains(LlamaNames.LmHead) || !src.Contains(LlamaNames.Embed)) return;
        var head = src.Info(LlamaNames.LmHead);
        var embed = src.Info(LlamaNames.Embed);
        bool same = head.Shape.AsSpan().SequenceEqual(embed.Shape);
        if (same)
        {
            var a = new float[head.NumElements];
            var b = new float[embed.NumElements];
            src.ReadFloats(LlamaNames.LmHead, a);
            src.ReadFloats(LlamaNames.Embed, b);
            same = a.AsSpan().SequenceEqual(b);
        }
        if (!same)
            throw new FileFormatException(src.Path, LlamaNames.LmHead,
                "differs from model.embed_tokens.weight but config.json says tie_word_embeddings is true (set it false to use this lm_head)");
    }

    private static string BiasFields(LlamaConfig c) => c.Family switch
    {
        ModelFamily.Llama => $"attention_bias {(c.AttentionBias ? "true" : "false")}, mlp_bias {(c.MlpBias ? "true" : "false")}",
        ModelFamily.Qwen3 => $"attention_bias {(c.AttentionBias ? "true" : "false")}",
        ModelFamily.Qwen2 => "Qwen2 has biases on q/k/v only",
        _ => "Mistral has no biases",
    };

    /// <summary>Weights must be stored as floating-point numbers (or GGUF quantized blocks); an integer tensor read as
    /// numbers would load as garbage.</summary>
    private static void RequireFloatType(string path, TensorEntry info)
    {
        bool ok = info.DType is DType.F32 or DType.F16 or DType.BF16
                  || info.FileType is string ft && (ft == "f64" || GgmlTypes.TryParse(ft, out _));
        if (!ok)
            throw new FileFormatException(path, info.Name,
                $"dtype {info.FileType ?? info.DType.ToString().ToLowerInvariant()} is not a floating-point type; weights must be f32, f16, bf16 (or a GGUF block type)");
    }

    /// <summary>Refuses NaN or infinite weights, naming the tensor and the first bad element.</summary>
    internal static void RequireFinite(string path, string name, ReadOnlySpan<float> data)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int w = System.Numerics.Vector<float>.Count;
            for (; i <= data.Length - w; i += w)
            {
                var v = new System.Numerics.Vector<float>(data.Slice(i, w));
                // x - x is 0 for finite x and NaN for NaN and ±Inf.
                if (!System.Numerics.Vector.EqualsAll(v - v, System.Numerics.Vector<float>.Zero)) break;
            }
        }
        for (; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
                throw new FileFormatException(path, name, $"holds a non-finite value ({data[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at element {i}); the checkpoint is damaged");
        }
    }

    /// <summary>The ggml type a 2-D weight is kept in without conversion: a GGUF block type, or f32/f16/bf16 when the
    /// source's bytes stay mapped (a GGUF file), so they are read in place instead of copied; null: load it dense.</summary>
    private static GgmlType? KeptType(ITensorSource src, TensorEntry info)
    {
        if (info.FileType is string ft) return GgmlTypes.TryParse(ft, out var t) && t.IsQuantized() ? t : null;
        if (!src.BytesStayMapped) return null;
        return info.DType switch { DType.F32 => GgmlType.F32, DType.F16 => GgmlType.F16, DType.BF16 => GgmlType.BF16, _ => null };
    }

    public static bool IsProjection(string name) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith("_proj.weight", StringComparison.Ordinal);

    private static Nf4Linear LoadBnb(ITensorSource src, string name, int[] shape, IBackend be)
    {
        var prefix = name[..^"weight".Length];
        var w = Nf4BnbState.FromBnbState(src, prefix);
        if (w.Rows != shape[0] || w.Cols != shape[1])
            throw new FileFormatException(src.Path, prefix + Nf4BnbState.QuantStateName,
                $"shape [{w.Rows}, {w.Cols}] does not match the config's [{string.Join(", ", shape)}]");
        return Nf4Linear.Upload(be, w);
    }

    /// <param name="embeddingStd">std of the embedding and LM head (default: <paramref name="std"/>).</param>
    /// <param name="biasStd">std of projection biases; null: zeros, as transformers initialises nn.Linear biases.</param>
    public static ParameterSet Random(LlamaConfig c, IBackend be, ulong seed, WeightOptions o, double std = 0.02, double? embeddingStd = null,
        double? biasStd = null)
    {
        var rng = new Rng(seed);
        var set = new ParameterSet();
        foreach (var (name, shape) in Expected(c))
        {
            var s = new Shape(shape);
            var data = new float[s.NumElements];
            if (IsNorm(name)) data.AsSpan().Fill(1f);
            else if (IsBias(name)) { if (biasStd is double bs) rng.FillNormal(data, 0, bs); }
            else rng.FillNormal(data, 0, name is LlamaNames.Embed or LlamaNames.LmHead ? embeddingStd ?? std : std);
            var dtype = PlacementType(name, be, o, out bool trainable);
            var t = TensorScope.Unscoped(() => be.FromFloats(data, s, dtype));
            t.RequiresGrad = trainable;
            set.Add(name, t);
        }
        return set;
    }
}
