using Engine.Tensors;

namespace Engine.Backends;

/// <summary>The seam every operation dispatches through. A backend owns device memory and implements each primitive
/// on contiguous tensors; the autograd layer above composes them and never touches memory itself.
/// The CPU backend is the reference; the CUDA backend is checked against it op by op.
///
/// Conventions: outputs are passed in (the caller allocates with <see cref="Empty"/>), so a backend may fuse or reuse
/// buffers freely; "accumulate" means the result is added to what the output holds; floating inputs may be any float
/// dtype the backend computes in, and reductions are done in fp32 or better.</summary>
internal interface IBackend : IDevice, IDisposable
{
    /// <summary>The dtype activations are computed in: F32 on the CPU, BF16 on CUDA.</summary>
    DType ActivationType { get; }

    // ---- memory -------------------------------------------------------------------------------------------
    Tensor Empty(Shape shape, DType dtype);
    Tensor Zeros(Shape shape, DType dtype);
    /// <summary>Copies host values into a new tensor of <paramref name="dtype"/>, converting from float.</summary>
    Tensor FromFloats(ReadOnlySpan<float> data, Shape shape, DType dtype);
    Tensor FromInts(ReadOnlySpan<int> data, Shape shape);
    /// <summary>Copies raw little-endian element bytes (already in <paramref name="dtype"/>) into a new tensor.</summary>
    Tensor FromBytes(ReadOnlySpan<byte> data, Shape shape, DType dtype);
    /// <summary>Reads a float tensor (any float dtype) back to the host as fp32.</summary>
    void ToFloats(Tensor t, Span<float> dst);
    void ToInts(Tensor t, Span<int> dst);
    void ToBytes(Tensor t, Span<byte> dst);
    void Fill(Tensor t, float value);
    /// <summary>dst = src elementwise with a dtype conversion when they differ (same number of elements).</summary>
    void Copy(Tensor src, Tensor dst);
    /// <summary>Bytes currently allocated and the most ever allocated at once by this backend.</summary>
    (long Current, long Peak) MemoryInUse { get; }
    void ResetPeakMemory();
    /// <summary>Waits for queued device work (a no-op on the CPU).</summary>
    void Synchronize();

    // ---- elementwise --------------------------------------------------------------------------------------
    void Add(Tensor a, Tensor b, Tensor y);
    void Mul(Tensor a, Tensor b, Tensor y);
    void Scale(Tensor x, float alpha, Tensor y);
    /// <summary>y += alpha·x. y may be fp32 while x is a lower precision (gradient accumulation).</summary>
    void Axpy(float alpha, Tensor x, Tensor y);
    /// <summary>Inverted dropout: y = x·mask/(1-p), the mask a pure function of (seed, element index); with
    /// <paramref name="accumulate"/>, y += x·mask/(1-p) (LoRA's backward adds its masked input gradient in one pass).
    /// x and y may be the same tensor.</summary>
    void Dropout(Tensor x, float p, ulong seed, Tensor y, bool accumulate = false);

    // ---- linear algebra -----------------------------------------------------------------------------------
    /// <summary>C[i] = alpha·op(A[i])·op(B[i]) + beta·C[i] over a batch. A is [batch?, M, K] (or [batch?, K, M] when
    /// transposed), B is [batch?, K, N] (or [batch?, N, K]); a 2-D operand is broadcast over the batch; C is [batch?, M, N].
    /// Leading dimensions of a 2-D operand may be flattened rows ([B, T, K] as [B·T, K]).</summary>
    void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f);

    // ---- NF4 (QLoRA's frozen base) ------------------------------------------------------------------------
    /// <summary>dst = elements [start, start + dst.NumElements) of the row-major NF4 weight, dequantized in fp32 as
    /// bitsandbytes does (w = code · absmax, double-quantized absmax = fl(map[q] · nested) + offset) and stored in
    /// dst's float dtype (rounded to nearest even).</summary>
    void Nf4Dequantize(Nf4DeviceWeight w, long start, Tensor dst);
    /// <summary>c = a·op(W) with W the NF4 weight [Rows, Cols] dequantized on the fly: transW gives a·Wᵀ (a [.., Cols],
    /// c [.., Rows]: nn.Linear's forward), else a·W (a [.., Rows], c [.., Cols]: its input gradient). Leading
    /// dimensions of a are rows. Never keeps a full-precision copy of W beyond the call.</summary>
    void Nf4MatMul(Tensor a, Nf4DeviceWeight w, bool transW, Tensor c);

    // ---- ggml block weights (GGUF inference on the quantized weights) ---------------------------------------
    /// <summary>True when <see cref="GgmlMatMul"/> and <see cref="GgmlEmbedding"/> run here; a backend without them
    /// gets GGUF block weights dequantized at load instead.</summary>
    bool SupportsGgmlWeights { get; }
    /// <summary>c = a·op(W) with W a ggml block weight [Rows, Cols]: transW gives a·Wᵀ (a [.., Cols], c [.., Rows]:
    /// nn.Linear's forward), else a·W (a [.., Rows], c [.., Cols]: its input gradient). Leading dimensions of a are
    /// rows. The forward of a few rows (decode) quantizes a's rows to the weight type's 8-bit activation format and
    /// takes integer block dot products, as llama.cpp does; more rows dequantize W tile by tile into fp32 products.</summary>
    void GgmlMatMul(Tensor a, GgmlWeight w, bool transW, Tensor c);
    /// <summary>y[n] = row ids[n] of the ggml block weight [V, D] dequantized; ids I32 [N], y [N, D].</summary>
    void GgmlEmbedding(GgmlWeight w, Tensor ids, Tensor y);

    // ---- model primitives ---------------------------------------------------------------------------------
    /// <summary>y[n] = weight[ids[n]]; weight [V, D], ids I32 [N], y [N, D].</summary>
    void EmbeddingForward(Tensor weight, Tensor ids, Tensor y);
    /// <summary>dWeight[ids[n]] += dy[n] (accumulates).</summary>
    void EmbeddingBackward(Tensor dy, Tensor ids, Tensor dWeight);

    /// <summary>y = x / rms(x) · w over the last dimension; rstd [N] fp32 receives 1/rms for backward.</summary>
    void RmsNormForward(Tensor x, Tensor w, float eps, Tensor y, Tensor rstd);
    /// <summary>dx = d(rmsnorm)/dx; dw (optional) accumulates.</summary>
    void RmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor? dw);

    /// <summary>Rotary embedding in HF's half-split layout on x [N, H, Dh]: for i &lt; Dh/2 the pair (i, i+Dh/2) of
    /// token n is rotated by positions[n]·freq[i]. cos/sin are [maxPos, Dh/2] fp32. <paramref name="inverse"/> rotates by
    /// the negative angle (the backward pass).</summary>
    void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse);

    /// <summary>Causal attention with grouped-query heads. q [B, Tq, H, Dh], k and v [B, Tk, Hkv, Dh], H a multiple
    /// of Hkv; query t sits at position t + (Tk − Tq) and sees keys 0..that position, narrowed by
    /// <paramref name="mask"/> (packed samples, sliding window; null = plain causal). o [B, Tq, H, Dh];
    /// lse [B, H, Tq] fp32 receives the log-sum-exp of each score row for backward (may be null when not training).
    /// The CPU backend also reads a generation KV cache's k and v in f16, or as ggml q8_0 blocks: u8 [B, Tk, Hkv, Dh/32·34].</summary>
    void AttentionForward(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttentionMask? mask = null);
    /// <summary>Gradients of <see cref="AttentionForward"/> under the same <paramref name="mask"/>.</summary>
    void AttentionBackward(Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float scale,
                           Tensor dq, Tensor dk, Tensor dv, AttentionMask? mask = null);

    /// <summary>y = silu(gate)·up.</summary>
    void SwiGluForward(Tensor gate, Tensor up, Tensor y);
    void SwiGluBackward(Tensor dy, Tensor gate, Tensor up, Tensor dGate, Tensor dUp);

    /// <summary>Cross-entropy of logits [N, V] against targets I32 [N]; targets equal to <paramref name="ignoreIndex"/>
    /// contribute nothing. loss [1] fp32 receives the SUM of −log p(target); lse [N] fp32 the log-sum-exp per row.</summary>
    void CrossEntropyForward(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse);
    /// <summary>dLogits = gradScale·(softmax(logits) − onehot(target)) for counted rows, 0 for ignored rows.</summary>
    void CrossEntropyBackward(Tensor logits, Tensor targets, int ignoreIndex, Tensor lse, Tensor gradScale, Tensor dLogits);

    /// <summary>y[i] = alpha·s[0] for every element of y: the backward of a sum, without reading s on the host.</summary>
    void BroadcastScalar(Tensor s, float alpha, Tensor y);
    /// <summary>y[0] = Σ x (fp32 accumulation).</summary>
    void Sum(Tensor x, Tensor y);
    /// <summary>Σ x² in double on the host (one read back per call).</summary>
    double SumSquares(Tensor x);
    /// <summary>acc slot += Σ over <paramref name="xs"/> of Σ x, without a host read: the micro-batch losses of a
    /// training step. acc is an f32 tensor holding slot k as the pair (high, low) at 2k, 2k+1 (<see cref="SplitDouble"/>);
    /// sums are taken in fp64 or better.</summary>
    void SumInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot);
    /// <summary>acc slot += Σ over <paramref name="xs"/> of Σ x² in fp64 or better, without a host read (a step's squared
    /// gradient norm over every trainable tensor, in a few launches on a device); slots as in <see cref="SumInto"/>.</summary>
    void SumSquaresInto(IReadOnlyList<Tensor> xs, Tensor acc, int slot);

    // ---- optimizer ----------------------------------------------------------------------------------------
    /// <summary>One decoupled-weight-decay Adam step over every tensor of the group (one launch where the device allows).</summary>
    void AdamW(IReadOnlyList<AdamWSlot> slots, in AdamWHyper h);
}

/// <summary>A trainable tensor with its gradient and two moment buffers (all fp32) and its own weight decay.</summary>
internal readonly record struct AdamWSlot(Tensor Param, Tensor Grad, Tensor M, Tensor V, float WeightDecay);

/// <summary>Hyper-parameters of one AdamW step. <see cref="Step"/> counts from 1. Gradients are multiplied by
/// <see cref="GradScale"/> first (global-norm clipping folds in here).</summary>
internal readonly record struct AdamWHyper(float LearningRate, float Beta1, float Beta2, float Eps, int Step, float GradScale);
