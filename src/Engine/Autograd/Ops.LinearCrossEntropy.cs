using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>Bytes one chunk of logits may take (and the same again for its gradient in backward). At 64 MiB a
    /// chunk is still a large GEMM everywhere — 512 rows of fp32 logits at a 32,000 vocabulary (the CPU's blocked
    /// kernel runs at its full rate from a few hundred rows), 261 rows of bf16 at Llama 3's 128,256 on a GPU
    /// (M = 261, K = 4096: hundreds of GFLOP per product) — while the two buffers stay a small fraction of what
    /// [tokens × vocab] logits cost at those vocabularies (2 GiB in bf16 for seq 2048 × 4 at 128,256).</summary>
    public const long LinearCrossEntropyChunkBytes = 64L << 20;

    /// <summary>Rows per chunk of <see cref="LinearCrossEntropy"/> for a vocabulary of <paramref name="vocab"/>
    /// logits in <paramref name="dtype"/>: as many as fit <see cref="LinearCrossEntropyChunkBytes"/>, at least one.</summary>
    public static int LinearCrossEntropyChunkRows(int vocab, DType dtype) =>
        (int)Math.Clamp(LinearCrossEntropyChunkBytes / ((long)vocab * dtype.SizeInBytes()), 1, int.MaxValue);

    /// <summary>The cross-entropy of <see cref="CrossEntropy"/> on the logits hidden·weightᵀ (hidden [N, D], weight
    /// [V, D] in hidden's dtype) without ever holding all [N, V] logits: rows go through in chunks of
    /// <paramref name="chunkRows"/> (0 picks <see cref="LinearCrossEntropyChunkRows"/>), each chunk's logits are
    /// formed, reduced to its loss sum and per-row log-sum-exp, and dropped. Backward recomputes each chunk's logits,
    /// turns them into their gradient with the saved log-sum-exp and takes dHidden and dWeight from it (dWeight
    /// accumulated over chunks, straight into a trainable leaf's fp32 gradient). Per row the arithmetic is the unfused
    /// path's: the same GEMM, the same <see cref="IBackend.CrossEntropyForward"/> and backward; only the loss sum and
    /// dWeight add the chunks in another order. Built from backend primitives only, so it runs on every backend.</summary>
    public static Tensor LinearCrossEntropy(Tensor hidden, Tensor weight, Tensor targets, float scale = 1f, int ignoreIndex = -100, int chunkRows = 0)
    {
        var be = Backend.Of(hidden, weight);
        if (weight.Shape.Rank != 2 || hidden.Shape.Last != weight.Shape[1])
            throw new ArgumentException($"linear cross-entropy: hidden {hidden.Shape} does not fit a head of {weight.Shape}");
        int n = (int)hidden.Shape.Rows, v = weight.Shape[0];
        if (targets.NumElements != n) throw new ArgumentException($"linear cross-entropy: {n} rows of hidden states but {targets.NumElements} targets");
        var act = be.ActivationType;
        int rows = Math.Min(Math.Max(n, 1), chunkRows > 0 ? chunkRows : LinearCrossEntropyChunkRows(v, act));
        int chunks = (n + rows - 1) / rows;

        var h2 = hidden.Shape.Rank == 2 ? hidden.Share() : hidden.Reshape((int)hidden.Shape.Rows, hidden.Shape.Last);
        var t1 = targets.Shape.Rank == 1 ? targets.Share() : targets.Reshape(n);
        var lse = be.Empty(new Shape(n), DType.F32);
        var partial = be.Empty(new Shape(Math.Max(chunks, 1)), DType.F32);
        be.Fill(partial, 0f);
        using (var logits = be.Empty(new Shape(rows, v), act))
        {
            for (int c = 0; c < chunks; c++)
            {
                int r0 = c * rows, len = Math.Min(rows, n - r0);
                using var h = h2.Slice(r0, len);
                using var t = t1.Slice(r0, len);
                using var l = logits.Slice(0, len);
                using var sum = partial.Slice(c, 1);
                using var lseC = lse.Slice(r0, len);
                be.MatMul(h, false, weight, true, l);
                be.CrossEntropyForward(l, t, ignoreIndex, sum, lseC);
            }
        }
        var total = be.Empty(new Shape(1), DType.F32);
        be.Sum(partial, total);
        partial.Dispose();
        var loss = be.Empty(new Shape(1), DType.F32);
        be.Scale(total, scale, loss);
        total.Dispose();

        Record("linear_cross_entropy", loss, new[] { hidden, weight, targets }, node =>
        {
            var sh = node.Save(h2); var sw = node.Save(weight); var st = node.Save(t1); var slse = node.Save(lse);
            return (g, nd) =>
            {
                bool wantH = nd.NeedsGrad[0], wantW = nd.NeedsGrad[1];
                var gs = New(be, new Shape(1), DType.F32);
                be.Scale(g, scale, gs);
                var dh = wantH ? New(be, sh.Shape, act) : null;
                // A trainable leaf weight takes its gradient straight into its fp32 buffer, as MatMul's backward does;
                // anything else (the output of a cast) gets an fp32 gradient summed over the chunks here.
                bool direct = wantW && weight.GradFn is null && weight.RequiresGrad;
                Tensor? gw = null, wTarget = null;
                if (direct) wTarget = LeafGrad(be, weight);
                else if (wantW) wTarget = gw = New(be, weight.Shape, DType.F32);
                using (var logits = New(be, new Shape(rows, v), act))
                using (var dLogits = New(be, new Shape(rows, v), act))
                {
                    for (int c = 0; c < chunks; c++)
                    {
                        int r0 = c * rows, len = Math.Min(rows, n - r0);
                        using var h = sh.Slice(r0, len);
                        using var t = st.Slice(r0, len);
                        using var l = logits.Slice(0, len);
                        using var dl = dLogits.Slice(0, len);
                        using var lseC = slse.Slice(r0, len);
                        be.MatMul(h, false, sw, true, l);
                        be.CrossEntropyBackward(l, t, ignoreIndex, lseC, gs, dl);
                        if (dh is not null)
                        {
                            using var dhC = dh.Slice(r0, len);
                            be.MatMul(dl, false, sw, false, dhC);
                        }
                        if (wTarget is not null) be.MatMul(dl, true, h, false, wTarget, 1f, direct || c > 0 ? 1f : 0f);
                    }
                }
                gs.Dispose();
                Tensor? dhOut = null;
                if (dh is not null)
                {
                    dhOut = dh.Reshape(hidden.Shape, track: false);
                    dh.Dispose();
                }
                return new Tensor?[] { dhOut, gw, null };
            };
        });
        lse.Dispose();
        h2.Dispose();
        t1.Dispose();
        return loss;
    }
}
