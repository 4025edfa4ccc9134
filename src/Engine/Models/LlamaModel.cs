using Engine.Autograd;
using Engine.Backends;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>A Llama decoder: token embedding, N pre-norm layers (GQA self-attention with RoPE, SwiGLU MLP), final
/// RMSNorm and LM head. Weights are in HF layout (q/k rows in rotate-half order) whatever file they came from.</summary>
internal sealed class LlamaModel : IDisposable
{
    /// <param name="projections">Layer projections built elsewhere (NF4 or ggml block weights), by weight name
    /// (model.layers.{i}.self_attn.q_proj.weight, or lm_head.weight for the LM head); the others are dense weights from
    /// <paramref name="parameters"/>. The model disposes those that are disposable.</param>
    /// <param name="packedEmbedding">The token embedding kept in a ggml block type, in place of a dense
    /// model.embed_tokens.weight parameter.</param>
    public LlamaModel(LlamaConfig config, IBackend backend, ParameterSet parameters, IReadOnlyDictionary<string, ILinear>? projections = null,
                      GgmlWeight? packedEmbedding = null)
    {
        Config = config;
        Backend = backend;
        Parameters = parameters;
        PackedEmbed = packedEmbedding;
        Embed = packedEmbedding is null ? parameters[LlamaNames.Embed] : null;
        FinalNorm = parameters[LlamaNames.FinalNorm];
        TiedEmbeddings = !parameters.Contains(LlamaNames.LmHead) && projections?.ContainsKey(LlamaNames.LmHead) != true;
        Head = projections is not null && projections.TryGetValue(LlamaNames.LmHead, out var packedHead) ? packedHead
             : parameters.TryGet(LlamaNames.LmHead, out var head) ? new Linear(head)
             : packedEmbedding is not null ? new GgmlLinear(packedEmbedding) : new Linear(Embed!);
        Layers = new LlamaLayer[config.NumLayers];
        for (int i = 0; i < config.NumLayers; i++)
        {
            ILinear P(string s)
            {
                var name = LlamaNames.ProjectionWeight(i, s);
                return projections is not null && projections.TryGetValue(name, out var given) ? given : new Linear(parameters[name]);
            }
            Layers[i] = new LlamaLayer
            {
                Index = i,
                AttnNorm = parameters[LlamaNames.AttnNorm(i)],
                FfnNorm = parameters[LlamaNames.FfnNorm(i)],
                Q = P("q_proj"), K = P("k_proj"), V = P("v_proj"), O = P("o_proj"),
                Gate = P("gate_proj"), Up = P("up_proj"), Down = P("down_proj"),
                Biases = LlamaNames.Projections.Where(p => config.HasBias(p.Short))
                    .ToDictionary(p => p.Short, p => parameters[LlamaNames.ProjectionBias(i, p.Short)]),
                QNorm = config.HasQkNorm ? parameters[LlamaNames.QNorm(i)] : null,
                KNorm = config.HasQkNorm ? parameters[LlamaNames.KNorm(i)] : null,
            };
        }
        Rope = RopeTables.For(backend, config);
        if (projections is not null) Owned.AddRange(projections.Values.OfType<IDisposable>());
    }

    public LlamaConfig Config { get; }
    public IBackend Backend { get; }
    public ParameterSet Parameters { get; }
    /// <summary>The dense token embedding [V, D]; null while it is kept packed (<see cref="PackedEmbed"/>).</summary>
    public Tensor? Embed { get; private set; }
    /// <summary>The token embedding in a ggml block type (GGUF inference on the CPU); null when dense.</summary>
    public GgmlWeight? PackedEmbed { get; private set; }
    public Tensor FinalNorm { get; }
    /// <summary>The output projection [V, D]: lm_head.weight, or the embedding itself when the model ties them,
    /// dense or packed.</summary>
    public ILinear Head { get; private set; }
    /// <summary>True when some weight is kept in a GGUF block type (<see cref="GgmlLinear"/>, a packed embedding).</summary>
    public bool HoldsGgmlBlocks => PackedEmbed is not null || Head is GgmlLinear
        || Layers.Any(l => LlamaNames.Projections.Any(p => l.Get(p.Short) is GgmlLinear or LoraLinear { Base: GgmlLinear }));
    /// <summary>True when the model has no lm_head of its own and the head is the embedding.</summary>
    public bool TiedEmbeddings { get; }
    public LlamaLayer[] Layers { get; }
    public RopeTables Rope { get; }
    /// <summary>Recompute each decoder layer in backward instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; set; }
    /// <summary>True (the default) to compute <see cref="Loss"/> with <see cref="Ops.LinearCrossEntropy"/> when the head
    /// is a dense weight: logits chunk by chunk, never all [B·T × V] at once. False keeps the unfused path (the head's
    /// logits, then <see cref="Ops.CrossEntropy"/>), which quantized and LoRA heads always take.</summary>
    public bool FusedLoss { get; set; } = true;
    /// <summary>Token rows per chunk of the fused loss; 0 (the default) sizes chunks by
    /// <see cref="Ops.LinearCrossEntropyChunkBytes"/>.</summary>
    public int LossChunkRows { get; set; }
    /// <summary>Extra tensors owned by the model (LoRA adapters, quantized weights), disposed with it.</summary>
    public List<IDisposable> Owned { get; } = new();

    /// <summary>Final hidden states [B·T, D] of token ids [B, T] (I32) at the given positions [B·T].
    /// With a <paramref name="cache"/> (batch 1), the tokens continue the cached sequence. Rows packing several samples
    /// pass <paramref name="segmentStarts"/> (I32 [B·T], see <see cref="AttentionMask"/>) so no sample attends to
    /// another; each layer's sliding window (<see cref="LlamaConfig.WindowOf"/>) applies on top.</summary>
    public Tensor Forward(Tensor ids, Tensor positions, ForwardContext ctx, KvCache? cache = null, Tensor? segmentStarts = null)
    {
        if (segmentStarts is not null && cache is not null) throw new ArgumentException("packed rows (segment starts) cannot continue a KV cache");
        if (ids.Shape.Rank != 2) throw new ArgumentException($"token ids are [batch, time], got {ids.Shape}");
        int b = ids.Shape[0], t = ids.Shape[1];
        if (cache is not null && b != 1) throw new ArgumentException("the KV cache holds one sequence");
        using var flat = ids.Reshape(b * t);
        var x = PackedEmbed is { } packed ? Ops.GgmlEmbedding(packed, flat) : Ops.Embedding(Embed!, flat);
        foreach (var layer in Layers)
        {
            var input = x;
            if (GradientCheckpointing && cache is null && GradMode.Enabled)
                x = segmentStarts is null // positions (and segment starts) saved with the input
                    ? Checkpoint.Run(a => LayerForward(layer, a[0], a[1], null, b, t, ctx, null), input, positions)
                    : Checkpoint.Run(a => LayerForward(layer, a[0], a[1], a[2], b, t, ctx, null), input, positions, segmentStarts);
            else
                x = LayerForward(layer, input, positions, segmentStarts, b, t, ctx, cache);
            input.Dispose();
        }
        cache?.Advance(t);
        using (x) return Ops.RmsNorm(x, FinalNorm, Config.RmsNormEps);
    }

    /// <summary>Logits [N, V] of hidden states [N, D].</summary>
    public Tensor Logits(Tensor hidden)
    {
        return Head.Forward(hidden, ForwardContext.Inference);
    }

    /// <summary>Replaces a packed embedding by its dense copy (registered under its HF name by the caller), and the
    /// tied head with it; the head of an untied model is replaced with <paramref name="head"/> when given.</summary>
    public void UseDense(Tensor? embedding, ILinear? head)
    {
        if (embedding is not null)
        {
            Embed = embedding;
            PackedEmbed = null;
            if (TiedEmbeddings) Head = new Linear(embedding);
        }
        if (head is not null) Head = head;
    }

    /// <summary>One decoder layer. Each intermediate is released as soon as its last consumer has run, not at the end of
    /// the layer, and outside autograd the MLP's product overwrites its up projection: a 512-token prompt through
    /// TinyLlama held about 80 MB of activations at once before, 35 MB since (the 11.5 MB MLP-wide products dominate).
    /// Autograd keeps what its backward needs by its own references.</summary>
    private Tensor LayerForward(LlamaLayer l, Tensor x, Tensor positions, Tensor? segmentStarts, int b, int t, ForwardContext ctx, KvCache? cache)
    {
        Tensor x2;
        using (var a = AttentionBlock(l, x, positions, segmentStarts, b, t, ctx, cache))
        using (var o = Project(l, "o_proj", a, ctx))
            x2 = Ops.Add(x, o);
        using (x2)
        {
            Tensor m;
            using (var h2 = Ops.RmsNorm(x2, l.FfnNorm, Config.RmsNormEps))
            using (var g = Project(l, "gate_proj", h2, ctx))
            using (var u = Project(l, "up_proj", h2, ctx))
                m = Ops.ShouldRecord(g, u) ? Ops.SwiGlu(g, u) : Ops.SwiGluOverwriting(g, u);
            using (m)
            using (var d = Project(l, "down_proj", m, ctx))
                return Ops.Add(x2, d);
        }
    }

    /// <summary>The attention half of a layer up to the output projection's input: [N, QDim].</summary>
    private Tensor AttentionBlock(LlamaLayer l, Tensor x, Tensor positions, Tensor? segmentStarts, int b, int t, ForwardContext ctx, KvCache? cache)
    {
        var c = Config;
        int n = b * t;
        Tensor q0, k0, v0;
        using (var h = Ops.RmsNorm(x, l.AttnNorm, c.RmsNormEps))
        {
            q0 = Project(l, "q_proj", h, ctx);
            k0 = Project(l, "k_proj", h, ctx);
            v0 = Project(l, "v_proj", h, ctx);
        }
        Tensor q, k2;
        using (var q1 = HeadNorm(Ops.Reshape(q0, n, c.NumHeads, c.HeadDim), l.QNorm))
        using (var q2 = Ops.Rope(q1, positions, Rope.Cos, Rope.Sin))
            q = Ops.Reshape(q2, b, t, c.NumHeads, c.HeadDim);
        q0.Dispose();
        using (var k1 = HeadNorm(Ops.Reshape(k0, n, c.NumKvHeads, c.HeadDim), l.KNorm))
            k2 = Ops.Rope(k1, positions, Rope.Cos, Rope.Sin);
        k0.Dispose();
        Tensor k, v;
        using (q)
        {
            if (cache is null)
            {
                k = Ops.Reshape(k2, b, t, c.NumKvHeads, c.HeadDim);
                v = Ops.Reshape(v0, b, t, c.NumKvHeads, c.HeadDim);
            }
            else
            {
                using var v1 = v0.Reshape(n, c.NumKvHeads, c.HeadDim);
                (k, v) = cache.Append(l.Index, k2, v1);
            }
            k2.Dispose();
            v0.Dispose();
            using (k)
            using (v)
            using (var a = Ops.Attention(q, k, v, 1f / MathF.Sqrt(c.HeadDim), MaskOf(l.Index, segmentStarts)))
                return Ops.Reshape(a, n, c.QDim);
        }
    }

    /// <summary>The attention mask of layer <paramref name="layer"/>: the rows' samples and the layer's window.</summary>
    private AttentionMask MaskOf(int layer, Tensor? segmentStarts)
    {
        int window = Config.WindowOf(layer);
        return segmentStarts is null ? AttentionMask.ForWindow(window) : new AttentionMask(segmentStarts, window);
    }

    /// <summary>A projection of the layer, plus its bias when the family has one.</summary>
    private static Tensor Project(LlamaLayer l, string shortName, Tensor x, ForwardContext ctx)
    {
        var y = l.Get(shortName).Forward(x, ctx);
        if (l.BiasOf(shortName) is not { } bias) return y;
        using (y) return Bias.Add(y, bias);
    }

    /// <summary>Qwen 3's RMSNorm of each head ([N, H, Dh] rows of Dh) before RoPE; the input itself without one.</summary>
    private Tensor HeadNorm(Tensor heads, Tensor? weight)
    {
        if (weight is null) return heads;
        using (heads) return Ops.RmsNorm(heads, weight, Config.RmsNormEps);
    }

    /// <summary>Positions 0..T−1 for each of B sequences (starting at <paramref name="start"/>), as an I32 tensor [B·T].</summary>
    public Tensor Positions(int batch, int time, int start = 0)
    {
        if (start + time > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence of {start + time} tokens exceeds the model's context of {Config.MaxPositionEmbeddings}");
        Rope.EnsurePositions(start + time);
        var p = new int[batch * time];
        for (int i = 0; i < p.Length; i++) p[i] = start + i % time;
        return Backend.FromInts(p, new Shape(p.Length));
    }

    /// <summary>Next-token targets of rows of <paramref name="seqLen"/> ids laid end to end: target[t] = ids[t + 1]
    /// within a row, −100 (no loss) at each row's last position.</summary>
    public static int[] NextTokenTargets(ReadOnlySpan<int> ids, int seqLen)
    {
        var targets = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) targets[i] = (i + 1) % seqLen == 0 ? -100 : ids[i + 1];
        return targets;
    }

    /// <summary>Positions [B·T] of packed rows: each token's index minus its sample's start, so every sample counts
    /// from 0 (<paramref name="segmentStarts"/> [B·T] laid out as rows of <paramref name="time"/>).</summary>
    public Tensor PackedPositions(ReadOnlySpan<int> segmentStarts, int time)
    {
        var p = new int[segmentStarts.Length];
        int longest = 0;
        for (int i = 0; i < p.Length; i++) longest = Math.Max(longest, p[i] = i % time - segmentStarts[i]);
        if (longest >= Config.MaxPositionEmbeddings)
            throw new ArgumentException($"a packed sample of {longest + 1} tokens exceeds the model's context of {Config.MaxPositionEmbeddings}");
        Rope.EnsurePositions(longest + 1);
        return Backend.FromInts(p, new Shape(p.Length));
    }

    /// <summary>Mean (or scaled) cross-entropy of next-token prediction: targets [B·T] hold the id expected after each
    /// position (−100 to skip). Returns scale·Σ NLL as a one-element tensor. Packed rows pass their
    /// <paramref name="segmentStarts"/> (host ints [B·T]): positions restart at every sample and attention stays inside it.</summary>
    public Tensor Loss(Tensor ids, Tensor targets, float scale, ForwardContext ctx, int[]? segmentStarts = null)
    {
        int b = ids.Shape[0], t = ids.Shape[1];
        if (segmentStarts is not null)
        {
            if (segmentStarts.Length != b * t) throw new ArgumentException($"segment starts hold {segmentStarts.Length} entries for {b}×{t} tokens");
            AttentionMask.CheckStarts(segmentStarts, t);
        }
        using var pos = segmentStarts is null ? Positions(b, t) : PackedPositions(segmentStarts, t);
        using var starts = segmentStarts is null ? null : Backend.FromInts(segmentStarts, new Shape(segmentStarts.Length));
        using var hidden = Forward(ids, pos, ctx, null, starts);
        if (FusedLoss && Head is Linear dense)
        {
            // The fused loss never holds [B·T × V] logits; a weight in another dtype is cast first, as Linear does.
            if (dense.Weight.DType == hidden.DType) return Ops.LinearCrossEntropy(hidden, dense.Weight, targets, scale, chunkRows: LossChunkRows);
            using var w = Ops.Cast(dense.Weight, hidden.DType);
            return Ops.LinearCrossEntropy(hidden, w, targets, scale, chunkRows: LossChunkRows);
        }
        using var logits = Logits(hidden);
        return Ops.CrossEntropy(logits, targets, scale);
    }

    public void Dispose()
    {
        Parameters.Dispose();
        PackedEmbed?.Dispose();
        Rope.Dispose();
        foreach (var o in Owned) o.Dispose();
    }
}
