using System.Buffers;
using System.Runtime.InteropServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Attention forward with keys and values stored in f16 (a generation KV cache, as llama.cpp keeps by
    /// default): one work item per (batch, kv head) widens that head's keys and values to fp32 once and serves every
    /// query head of its group with them, so the cache is read once per call. The arithmetic is then the fp32 path's on
    /// the widened values (<see cref="AttendHeadByDots"/> on them).</summary>
    private void AttentionForwardHalfKv(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys)
    {
        if (k.DType != DType.F16 || v.DType != DType.F16)
            throw new ArgumentException($"attention with a half-precision cache wants both k and v in f16, got {k} and {v}");
        var (qa, qo) = Raw(q); var (oa, oo) = Raw(o);
        k.U16(); v.U16(); // checks the views
        var (kArr, kOff) = ((ushort[])((CpuStorage)k.Storage).Data, (int)k.Offset);
        var (vArr, vOff) = ((ushort[])((CpuStorage)v.Storage).Data, (int)v.Offset);
        float[]? la = null; int lo = 0;
        if (lse is not null) (la, lo) = Raw(lse);
        int dh = d.Dh;
        CpuParallel.For(d.B * d.Hkv, (long)d.Group * d.Tq * d.Tk * dh * 2, (w0, w1) =>
        {
            // Pooled: a 7B cache row of 528 tokens is 270 KB per head, which would be a large-object allocation per layer
            // per token otherwise.
            var keys = ArrayPool<float>.Shared.Rent(d.Tk * dh);
            var values = ArrayPool<float>.Shared.Rent(d.Tk * dh);
            var scores = ArrayPool<float>.Shared.Rent(d.Tk);
            try
            {
                for (int w = w0; w < w1; w++)
                {
                    int b = w / d.Hkv, kh = w % d.Hkv;
                    var kSrc = MemoryMarshal.Cast<ushort, Half>(kArr.AsSpan(kOff, (int)k.NumElements));
                    var vSrc = MemoryMarshal.Cast<ushort, Half>(vArr.AsSpan(vOff, (int)v.NumElements));
                    for (int j = 0; j < d.Tk; j++)
                    {
                        int src = ((b * d.Tk + j) * d.Hkv + kh) * dh;
                        TensorPrimitives.ConvertToSingle(kSrc.Slice(src, dh), keys.AsSpan(j * dh, dh));
                        TensorPrimitives.ConvertToSingle(vSrc.Slice(src, dh), values.AsSpan(j * dh, dh));
                    }
                    for (int h = kh * d.Group; h < (kh + 1) * d.Group; h++)
                        AttendHeadByDots(qa, qo, keys, 0, values, 0, dh, oa, oo, la, lo, scale, d, firstKeys, b, h, scores);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(keys);
                ArrayPool<float>.Shared.Return(values);
                ArrayPool<float>.Shared.Return(scores);
            }
        });
    }
}
