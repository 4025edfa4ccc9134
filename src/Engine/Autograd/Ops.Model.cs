using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>Rows of <paramref name="weight"/> [V, D] picked by ids [N] (I32): [N, D] (or ids' shape + D).</summary>
    public static Tensor Embedding(Tensor weight, Tensor ids)
    {
        var be = Backend.Of(weight, ids);
        var dims = ids.Shape.ToArray().Append(weight.Shape.Last).ToArray();
        var y = be.Empty(new Shape(dims), be.ActivationType);
        be.EmbeddingForward(weight, ids, y);
        return Record("embedding", y, new[] { weight, ids }, node =>
        {
            var sid = node.Save(ids);
            return (g, n) =>
            {
                if (!n.NeedsGrad[0]) return new Tensor?[2];
                if (weight.GradFn is null && weight.RequiresGrad)
                {
                    be.EmbeddingBackward(g, sid, LeafGrad(be, weight));
                    return new Tensor?[2];
                }
                var gw = NewZeros(be, weight.Shape, DType.F32);
                be.EmbeddingBackward(g, sid, gw);
                return new Tensor?[] { gw, null };
            };
        });
    }

    /// <summary>RMSNorm over the last dimension with a learned scale.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps)
    {
        var be = Backend.Of(x, weight);
        var y = be.Empty(x.Shape, be.ActivationType);
        var rstd = be.Empty(new Shape((int)x.Shape.Rows), DType.F32);
        be.RmsNormForward(x, weight, eps, y, rstd);
        Record("rmsnorm", y, new[] { x, weight }, node =>
        {
            var sx = node.Save(x);
            var sw = node.Save(weight);
            var sr = node.Save(rstd);
            return (g, n) =>
            {
                var gx = New(be, x.Shape, be.ActivationType);
                Tensor? gw = null;
                if (n.NeedsGrad[1])
                {
                    if (weight.GradFn is null && weight.RequiresGrad)
                    {
                        be.RmsNormBackward(g, sx, sw, sr, gx, LeafGrad(be, weight));
                        return new Tensor?[] { n.NeedsGrad[0] ? gx : Drop(gx), null };
                    }
                    gw = NewZeros(be, weight.Shape, DType.F32);
                }
                be.RmsNormBackward(g, sx, sw, sr, gx, gw);
                return new Tensor?[] { n.NeedsGrad[0] ? gx : Drop(gx), gw };
            };
        });
        rstd.Dispose();
        return y;
    }

    private static Tensor? Drop(Tensor t) { t.Dispose(); return null; }

    /// <summary>Rotary position embedding (HF half-split layout) of x [..., H, Dh] for token positions [N] (I32, one per
    /// row of x); cos/sin are [maxPos, Dh/2] tables.</summary>
    public static Tensor Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin)
    {
        var be = Backend.Of(x, positions);
        var y = be.Empty(x.Shape, be.ActivationType);
        be.Rope(x, positions, cos, sin, y, inverse: false);
        return Record("rope", y, new[] { x }, node =>
        {
            var sp = node.Save(positions);
            var sc = node.Save(cos);
            var ss = node.Save(sin);
            return (g, _) =>
            {
                var gx = New(be, x.Shape, be.ActivationType);
                be.Rope(g, sp, sc, ss, gx, inverse: true);
                return new Tensor?[] { gx };
            };
        });
    }

    /// <summary>Causal grouped-query attention: q [B, Tq, H, Dh], k/v [B, Tk, Hkv, Dh] → [B, Tq, H, Dh], narrowed by
    /// <paramref name="mask"/> (packed samples and/or a sliding window; null = plain causal).</summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, float scale, AttentionMask? mask = null)
    {
        var be = Backend.Of(q, k);
        if (mask is not null && mask.IsCausal) mask = null;
        var o = be.Empty(q.Shape, be.ActivationType);
        bool record = ShouldRecord(q, k, v);
        var lse = record ? be.Empty(new Shape(q.Shape[0], q.Shape[2], q.Shape[1]), DType.F32) : null;
        be.AttentionForward(q, k, v, scale, o, lse, mask);
        if (!record) return o;
        Record("attention", o, new[] { q, k, v }, node =>
        {
            var sq = node.Save(q); var sk = node.Save(k); var sv = node.Save(v);
            var so = node.Save(o); var sl = node.Save(lse!);
            var sm = mask?.SegmentStarts is { } starts ? mask with { SegmentStarts = node.Save(starts) } : mask;
            return (g, n) =>
            {
                var dq = New(be, q.Shape, be.ActivationType);
                var dk = New(be, k.Shape, be.ActivationType);
                var dv = New(be, v.Shape, be.ActivationType);
                be.AttentionBackward(g, sq, sk, sv, so, sl, scale, dq, dk, dv, sm);
                return new Tensor?[] { n.NeedsGrad[0] ? dq : Drop(dq), n.NeedsGrad[1] ? dk : Drop(dk), n.NeedsGrad[2] ? dv : Drop(dv) };
            };
        });
        lse!.Dispose();
        return o;
    }

    /// <summary>silu(gate)·up, the Llama MLP activation.</summary>
    public static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        var be = Backend.Of(gate, up);
        var y = be.Empty(gate.Shape, be.ActivationType);
        be.SwiGluForward(gate, up, y);
        return Record("swiglu", y, new[] { gate, up }, node =>
        {
            var sg = node.Save(gate); var su = node.Save(up);
            return (g, n) =>
            {
                var dg = New(be, gate.Shape, be.ActivationType);
                var du = New(be, up.Shape, be.ActivationType);
                be.SwiGluBackward(g, sg, su, dg, du);
                return new Tensor?[] { n.NeedsGrad[0] ? dg : Drop(dg), n.NeedsGrad[1] ? du : Drop(du) };
            };
        });
    }

    /// <summary>Inference's <see cref="SwiGlu"/>: silu(gate)·up written over <paramref name="up"/>'s storage when no other
    /// handle holds it (an elementwise product may overwrite its input), else into a new tensor; returns a new handle
    /// to the result either way, and the caller must not read <paramref name="up"/> again. Saves one MLP-wide
    /// activation per layer (11.5 MB for a 512-token TinyLlama prompt). Refused where autograd would record the call.</summary>
    public static Tensor SwiGluOverwriting(Tensor gate, Tensor up)
    {
        if (ShouldRecord(gate, up))
            throw new InvalidOperationException("SwiGluOverwriting is for inference: autograd needs up as it was; use SwiGlu");
        var be = Backend.Of(gate, up);
        if (up.DType != be.ActivationType || gate.Shape != up.Shape || !up.Storage.IsExclusive || up.Offset != 0 || up.NumElements != up.Storage.Length)
            return SwiGlu(gate, up);
        be.SwiGluForward(gate, up, up);
        return up.Share();
    }

    /// <summary>scale · Σ −log softmax(logits)[target] over rows whose target is not <paramref name="ignoreIndex"/>:
    /// a one-element fp32 tensor. Pass scale = 1/(number of counted targets) for the mean.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, float scale = 1f, int ignoreIndex = -100)
    {
        var be = Backend.Of(logits, targets);
        var logits2 = logits.Shape.Rank == 2 ? logits.Share() : logits.Reshape((int)logits.Shape.Rows, logits.Shape.Last);
        var sum = be.Empty(new Shape(1), DType.F32);
        var lse = be.Empty(new Shape((int)logits2.Shape.Rows), DType.F32);
        be.CrossEntropyForward(logits2, targets, ignoreIndex, sum, lse);
        var loss = be.Empty(new Shape(1), DType.F32);
        be.Scale(sum, scale, loss);
        sum.Dispose();
        Record("cross_entropy", loss, new[] { logits, targets }, node =>
        {
            var sl = node.Save(logits2); var st = node.Save(targets); var slse = node.Save(lse);
            return (g, _) =>
            {
                var gs = New(be, new Shape(1), DType.F32);
                be.Scale(g, scale, gs);
                var d = New(be, sl.Shape, be.ActivationType);
                be.CrossEntropyBackward(sl, st, ignoreIndex, slse, gs, d);
                gs.Dispose();
                var dr = d.Reshape(logits.Shape, track: false);
                d.Dispose();
                return new Tensor?[] { dr, null };
            };
        });
        lse.Dispose();
        logits2.Dispose();
        return loss;
    }
}
