using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo AttnForwardKernel = KernelCache.Method(typeof(AttentionKernels), nameof(AttentionKernels.Forward));
    private static readonly MethodInfo AttnDeltaKernel = KernelCache.Method(typeof(AttentionKernels), nameof(AttentionKernels.Delta));
    private static readonly MethodInfo AttnBackQueryKernel = KernelCache.Method(typeof(AttentionKernels), nameof(AttentionKernels.BackwardQuery));
    private static readonly MethodInfo AttnBackKeyValueKernel = KernelCache.Method(typeof(AttentionKernels), nameof(AttentionKernels.BackwardKeyValue));

    public void AttentionForward(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttentionMask? mask = null)
    {
        const string op = "attention";
        var s = AttentionShapeOf(q, k, v, scale, mask);
        if (o.NumElements != q.NumElements) throw new ArgumentException($"attention: o {o.Shape} should match q {q.Shape}");
        long rows = (long)s.Batch * s.Heads * s.Tq;
        if (lse is not null && lse.NumElements != rows) throw new ArgumentException($"attention: lse {lse.Shape} should be [{s.Batch}, {s.Heads}, {s.Tq}]");
        if (rows == 0) return;
        var inType = FloatElem(q, op);
        using var k2 = As(k, q.DType);
        using var v2 = As(v, q.DType);
        ArrayView<float> lseView = lse is null ? _partials.View : F32View(lse, op, "lse");
        var starts = StartsView(mask, op);
        if (MmaAttentionTileFor(s.HeadDim, q.DType) is { } mmaTile && WordAligned(View(q), View(k2), View(v2)))
        {
            MmaForward(s, mmaTile, FloatElem(o, op), View(q), View(k2), View(v2), View(o), lseView, lse is null ? 0 : 1, starts);
            return;
        }
        if (TiledAttention(s, AttentionTile.ForwardFloats) is { } tile)
        {
            TiledForward(s, tile, inType, FloatElem(o, op), View(q), View(k2), View(v2), View(o), lseView, lse is null ? 0 : 1, starts);
            return;
        }
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, int, ArrayView<int>, AttentionShape>>(
                AttnForwardKernel, inType, FloatElem(o, op))
            (Stream, Rows(rows, AttentionGroupSize(s.HeadDim)), View(q), View(k2), View(v2), View(o), lseView, lse is null ? 0 : 1, starts, s);
    }

    public void AttentionBackward(Tensor dO, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float scale,
                                  Tensor dq, Tensor dk, Tensor dv, AttentionMask? mask = null)
    {
        const string op = "attention backward";
        var s = AttentionShapeOf(q, k, v, scale, mask);
        long rows = (long)s.Batch * s.Heads * s.Tq;
        if (dO.NumElements != q.NumElements || o.NumElements != q.NumElements || dq.NumElements != q.NumElements
            || dk.NumElements != k.NumElements || dv.NumElements != v.NumElements || lse.NumElements != rows)
            throw new ArgumentException($"attention backward: dO {dO.Shape}, o {o.Shape}, lse {lse.Shape}, dq {dq.Shape}, dk {dk.Shape}, dv {dv.Shape} do not match q {q.Shape}, k {k.Shape}");
        if (dk.DType != dv.DType) throw new ArgumentException($"attention backward: dk {dk} and dv {dv} must share a dtype");
        if (rows == 0) return;
        var inType = FloatElem(q, op);
        using var dO2 = As(dO, q.DType);
        using var k2 = As(k, q.DType);
        using var v2 = As(v, q.DType);
        using var o2 = As(o, q.DType);
        using var delta = Scratch(new Shape((int)rows), DType.F32);
        var lseView = F32View(lse, op, "lse");
        var deltaView = View(delta).Cast<float>();
        var starts = StartsView(mask, op);
        if (MmaAttentionTileFor(s.HeadDim, q.DType, backward: true) is { } mmaTile && WordAligned(View(dO2), View(q), View(k2), View(v2)))
        {
            MmaBackward(s, mmaTile, FloatElem(dq, op), FloatElem(dk, op), View(dO2), View(q), View(k2), View(v2), View(o2),
                        lseView, deltaView, View(dq), View(dk), View(dv), starts);
            return;
        }
        if (TiledAttention(s, AttentionTile.KeyValueGradFloats) is { } tile)
        {
            TiledBackward(s, tile, inType, FloatElem(dq, op), FloatElem(dk, op), View(dO2), View(q), View(k2), View(v2), View(o2),
                          lseView, deltaView, View(dq), View(dk), View(dv), starts);
            return;
        }
        int group = AttentionGroupSize(s.HeadDim);

        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, AttentionShape>>(AttnDeltaKernel, inType)
            (Stream, Elementwise(rows), View(dO2), View(o2), deltaView, s);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                AttnBackQueryKernel, inType, FloatElem(dq, op))
            (Stream, Rows(rows, group), View(dO2), View(q), View(k2), View(v2), lseView, deltaView, View(dq), starts, s);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                AttnBackKeyValueKernel, inType, FloatElem(dk, op))
            (Stream, Rows((long)s.Batch * s.KvHeads * s.Tk, group), View(dO2), View(q), View(k2), View(v2), lseView, deltaView, View(dk), View(dv), starts, s);
    }

    /// <summary>The segment starts of <paramref name="mask"/> for the kernels; without segments a stand-in they never read
    /// (<see cref="AttentionShape.Segmented"/> is 0). The starts must be non-decreasing within each row (checked where
    /// they are made, on the host: <see cref="AttentionMask.CheckStarts"/>), which the tile skipping relies on.</summary>
    private ArrayView<int> StartsView(AttentionMask? mask, string op) =>
        mask?.SegmentStarts is { } starts ? I32View(starts, op, "segment starts") : _partials.View.AsContiguous().Cast<int>();

    /// <summary>The CPU backend's shape rules for attention, as kernel arguments.</summary>
    private static AttentionShape AttentionShapeOf(Tensor q, Tensor k, Tensor v, float scale, AttentionMask? mask)
    {
        if (q.Shape.Rank != 4 || k.Shape.Rank != 4 || v.Shape.Rank != 4)
            throw new ArgumentException($"attention wants [B, T, heads, Dh] tensors, got q {q.Shape}, k {k.Shape}, v {v.Shape}");
        var s = new AttentionShape
        {
            Batch = q.Shape[0], Tq = q.Shape[1], Tk = k.Shape[1], Heads = q.Shape[2], KvHeads = k.Shape[2], HeadDim = q.Shape[3], Scale = scale,
        };
        if (k.Shape != v.Shape || k.Shape[0] != s.Batch || k.Shape[3] != s.HeadDim || s.KvHeads == 0 || s.Heads % s.KvHeads != 0 || s.Tk < s.Tq)
            throw new ArgumentException($"attention shapes do not agree: q {q.Shape}, k {k.Shape}, v {v.Shape}");
        if (mask is not null)
        {
            mask.CheckShape(s.Batch, s.Tq, s.Tk);
            s.Window = mask.Window;
            s.Segmented = mask.SegmentStarts is null ? 0 : 1;
        }
        return s;
    }

    /// <summary>The attention kernels give output dimension d to thread d, so a group needs at least Dh threads.</summary>
    private int AttentionGroupSize(int headDim)
    {
        int min = _device.IsCuda ? 128 : 32;
        int size = (Math.Max(headDim, min) + 31) / 32 * 32;
        if (headDim > AttentionKernels.MaxHeadDim || size > _acc.MaxNumThreadsPerGroup)
            throw new NotSupportedException($"attention: head dimension {headDim} is above what {Name} supports ({Math.Min(AttentionKernels.MaxHeadDim, _acc.MaxNumThreadsPerGroup)})");
        return size;
    }
}
