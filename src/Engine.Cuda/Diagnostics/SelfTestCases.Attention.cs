using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    /// <summary>On an <see cref="IlgpuBackend"/> the attention kernels (tiled, simple, and on a GPU the tensor-core
    /// forward and backward) are checked; elsewhere the
    /// backend's own. Shapes: causal with GQA and Tk &gt; Tq, plus (realistic size) Dh 128 with several query and key
    /// tiles, the shape training runs; then masked: packed samples (with and without a sliding window) and a window
    /// over a KV-cache offset.</summary>
    private static void Attention(SelfTestHarness h)
    {
        if (h.C is not IlgpuBackend gpu) { AttentionShapes(h, ""); return; }
        MmaTile(h, gpu); // the tensor-core kernels' building blocks, alone
        LdmatrixTile(h, gpu);
        // The tensor-core kernels (bf16, Dh 64/128; otherwise they fall back to tiled) on GPUs only: on the CPU
        // accelerator its own tests cover it, and a third pass would only repeat the tiled kernels there.
        AttentionKernel[] kernels = gpu.IsCuda ? [AttentionKernel.Tiled, AttentionKernel.Mma, AttentionKernel.Simple] : [AttentionKernel.Tiled, AttentionKernel.Simple];
        EachSetting(h, "attention", kernels,
            () => gpu.Attention, kernel => gpu.Attention = kernel, suffix => AttentionShapes(h, suffix));
    }

    private static void AttentionShapes(SelfTestHarness h, string suffix)
    {
        var d = D(h);
        AttentionCase(h, suffix, d.AttB, d.Tq, d.Tk, d.H, d.Hkv, d.Dh);
        if (!h.Tiny) AttentionCase(h, suffix, 1, 192, 192, 4, 2, 128);
        AttentionCase(h, suffix, 1, d.Tq, d.Tk, d.H, d.Hkv, d.Dh, null, Math.Max(1, d.Tk / 3));
        if (h.Tiny)
        {
            AttentionCase(h, suffix, 2, 12, 12, 4, 2, 8, [5, 7, 1, 11], 0);
            AttentionCase(h, suffix, 2, 12, 12, 4, 2, 8, [5, 7, 1, 11], 4);
        }
        else
        {
            // Samples across and on 64-row tile edges, one of a single token.
            AttentionCase(h, suffix, 2, 192, 192, 4, 2, 128, [100, 28, 64, 1, 63, 128], 0);
            AttentionCase(h, suffix, 2, 192, 192, 4, 2, 128, [100, 28, 64, 1, 63, 128], 48);
        }
    }

    /// <summary>Segment starts of rows of <paramref name="time"/> tokens filled by samples of <paramref name="lengths"/> in turn.</summary>
    private static int[] SegmentStarts(int rows, int time, int[] lengths)
    {
        var starts = new int[rows * time];
        int at = 0;
        foreach (int len in lengths)
        {
            if (at % time + len > time || at + len > starts.Length) throw new ArgumentException("self-test samples do not fill their rows");
            starts.AsSpan(at, len).Fill(at % time);
            at += len;
        }
        if (at != starts.Length) throw new ArgumentException("self-test samples do not fill their rows");
        return starts;
    }

    private static void AttentionCase(SelfTestHarness h, string suffix, int batch, int tq, int tk, int heads, int kvHeads, int dh,
                                      int[]? sampleLengths = null, int window = 0)
    {
        AttentionMask? maskC = null, maskR = null;
        string masked = "";
        if (sampleLengths is not null || window > 0)
        {
            var starts = sampleLengths is null ? (TensorPair?)null : h.Ints(SegmentStarts(batch, tq, sampleLengths), new Shape(batch * tq));
            maskC = new AttentionMask(starts?.C, window);
            maskR = new AttentionMask(starts?.R, window);
            masked = (sampleLengths is null ? "" : ", packed") + (window > 0 ? $", window {window}" : "");
        }
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        float scale = 1f / MathF.Sqrt(dh);
        var q = h.Random(qs, h.Act);
        var k = h.Random(ks, h.Act);
        var v = h.Random(ks, h.Act);
        var o = h.Output(qs, h.Act);
        var lse = h.Output(new Shape(batch, heads, tq), DType.F32);
        h.C.AttentionForward(q.C, k.C, v.C, scale, o.C, lse.C, maskC);
        h.R.AttentionForward(q.R, k.R, v.R, scale, o.R, lse.R, maskR);
        string what = $"(causal{(heads != kvHeads ? ", gqa" : "")}{(tk > tq ? ", Tk>Tq" : "")}{masked})";
        h.Check($"attention {what}{suffix}", o);
        h.Check($"attention lse {what}{suffix}", lse);

        var oNoLse = h.Output(qs, h.Act);
        h.C.AttentionForward(q.C, k.C, v.C, scale, oNoLse.C, null, maskC);
        h.R.AttentionForward(q.R, k.R, v.R, scale, oNoLse.R, null, maskR);
        h.Check($"attention without lse {what}{suffix}", oNoLse);

        // Backward from the reference forward's o and lse, so both sides differentiate the same point.
        var oRef = h.Values(SelfTestHarness.Read(h.R, o.R), qs, h.Act);
        var lseRef = h.Values(SelfTestHarness.Read(h.R, lse.R), lse.R.Shape, DType.F32);
        var dO = h.Random(qs, h.Act);
        var dq = h.Output(qs, h.Act);
        var dk = h.Output(ks, h.Act);
        var dv = h.Output(ks, h.Act);
        h.C.AttentionBackward(dO.C, q.C, k.C, v.C, oRef.C, lseRef.C, scale, dq.C, dk.C, dv.C, maskC);
        h.R.AttentionBackward(dO.R, q.R, k.R, v.R, oRef.R, lseRef.R, scale, dq.R, dk.R, dv.R, maskR);
        h.Check($"attention backward dq {what}{suffix}", dq);
        h.Check($"attention backward dk {what}{suffix}", dk);
        h.Check($"attention backward dv {what}{suffix}", dv);
    }
}
