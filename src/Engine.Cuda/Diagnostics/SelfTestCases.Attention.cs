using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    /// <summary>On an <see cref="IlgpuBackend"/> both attention kernels (tiled and simple) are checked; elsewhere the
    /// backend's own. Shapes: causal with GQA and Tk &gt; Tq, plus (realistic size) Dh 128 with several query and key
    /// tiles, the shape training runs.</summary>
    private static void Attention(SelfTestHarness h)
    {
        if (h.C is not IlgpuBackend gpu) { AttentionShapes(h, ""); return; }
        EachSetting(h, "attention", [AttentionKernel.Tiled, AttentionKernel.Simple],
            () => gpu.Attention, kernel => gpu.Attention = kernel, suffix => AttentionShapes(h, suffix));
    }

    private static void AttentionShapes(SelfTestHarness h, string suffix)
    {
        var d = D(h);
        AttentionCase(h, suffix, d.AttB, d.Tq, d.Tk, d.H, d.Hkv, d.Dh);
        if (!h.Tiny) AttentionCase(h, suffix, 1, 192, 192, 4, 2, 128);
    }

    private static void AttentionCase(SelfTestHarness h, string suffix, int batch, int tq, int tk, int heads, int kvHeads, int dh)
    {
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        float scale = 1f / MathF.Sqrt(dh);
        var q = h.Random(qs, h.Act);
        var k = h.Random(ks, h.Act);
        var v = h.Random(ks, h.Act);
        var o = h.Output(qs, h.Act);
        var lse = h.Output(new Shape(batch, heads, tq), DType.F32);
        h.C.AttentionForward(q.C, k.C, v.C, scale, o.C, lse.C);
        h.R.AttentionForward(q.R, k.R, v.R, scale, o.R, lse.R);
        h.Check($"attention (causal{(heads != kvHeads ? ", gqa" : "")}{(tk > tq ? ", Tk>Tq" : "")}){suffix}", o);
        h.Check($"attention lse{suffix}", lse);

        var oNoLse = h.Output(qs, h.Act);
        h.C.AttentionForward(q.C, k.C, v.C, scale, oNoLse.C, null);
        h.R.AttentionForward(q.R, k.R, v.R, scale, oNoLse.R, null);
        h.Check($"attention without lse{suffix}", oNoLse);

        // Backward from the reference forward's o and lse, so both sides differentiate the same point.
        var oRef = h.Values(SelfTestHarness.Read(h.R, o.R), qs, h.Act);
        var lseRef = h.Values(SelfTestHarness.Read(h.R, lse.R), lse.R.Shape, DType.F32);
        var dO = h.Random(qs, h.Act);
        var dq = h.Output(qs, h.Act);
        var dk = h.Output(ks, h.Act);
        var dv = h.Output(ks, h.Act);
        h.C.AttentionBackward(dO.C, q.C, k.C, v.C, oRef.C, lseRef.C, scale, dq.C, dk.C, dv.C);
        h.R.AttentionBackward(dO.R, q.R, k.R, v.R, oRef.R, lseRef.R, scale, dq.R, dk.R, dv.R);
        h.Check($"attention backward dq{suffix}", dq);
        h.Check($"attention backward dk{suffix}", dk);
        h.Check($"attention backward dv{suffix}", dv);
    }
}
