using System.Buffers;
using System.Runtime.InteropServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Writes key or value row <c>row</c> of a cache tensor ([B, Tk, Hkv, ·] rows in order) as Dh fp32 values.</summary>
    private delegate void WidenKvRow(int row, Span<float> dst);

    /// <summary>Attention forward with keys and values stored in f16 (a generation KV cache, as llama.cpp keeps by
    /// default): <see cref="AttentionForwardWidenedKv"/> with each row widened to fp32.</summary>
    private void AttentionForwardHalfKv(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys)
    {
        if (k.DType != DType.F16 || v.DType != DType.F16)
            throw new ArgumentException($"attention with a half-precision cache wants both k and v in f16, got {k} and {v}");
        k.U16(); v.U16(); // checks the views
        var (kArr, kOff) = ((ushort[])((CpuStorage)k.Storage).Data, (int)k.Offset);
        var (vArr, vOff) = ((ushort[])((CpuStorage)v.Storage).Data, (int)v.Offset);
        int dh = d.Dh;
        AttentionForwardWidenedKv(q, o, lse, scale, d, firstKeys,
            (row, dst) => TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(kArr.AsSpan(kOff + row * dh, dh)), dst),
            (row, dst) => TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(vArr.AsSpan(vOff + row * dh, dh)), dst));
    }

    /// <summary>Attention forward with keys and values stored as ggml q8_0 blocks (a <c>--kv-cache q8_0</c> generation
    /// cache, as llama.cpp's <c>--cache-type-k/-v q8_0</c>): u8 tensors [B, Tk, Hkv, Dh/32·34], each head row its blocks
    /// side by side. <see cref="AttentionForwardWidenedKv"/> with each row dequantized to fp32 (qs·d).</summary>
    private void AttentionForwardQ8_0Kv(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys)
    {
        if (k.DType != DType.U8 || v.DType != DType.U8)
            throw new ArgumentException($"attention with a q8_0 cache wants both k and v as u8 blocks, got {k} and {v}");
        k.U8(); v.U8(); // checks the views
        var (kArr, kOff) = ((byte[])((CpuStorage)k.Storage).Data, (int)k.Offset);
        var (vArr, vOff) = ((byte[])((CpuStorage)v.Storage).Data, (int)v.Offset);
        int rowBytes = k.Shape[3];
        AttentionForwardWidenedKv(q, o, lse, scale, d, firstKeys,
            (row, dst) => BlockQ8_0.Dequantize(kArr.AsSpan(kOff + row * rowBytes, rowBytes), dst),
            (row, dst) => BlockQ8_0.Dequantize(vArr.AsSpan(vOff + row * rowBytes, rowBytes), dst));
    }

    /// <summary>Attention forward over keys and values stored narrower than fp32, bit for bit fp32 attention on the
    /// widened values. A prompt pass that the fp32 path runs on SGEMMs (<see cref="UseGemmAttention"/>) widens every
    /// row into fp32 k and v once and runs that path. Otherwise (decode) one work item per (batch, kv head) widens that
    /// head's keys and values to fp32 once (<paramref name="widenK"/>, <paramref name="widenV"/>) and serves every query
    /// head of its group with them (<see cref="AttendHeadByDots"/>), so the cache is read once per call.</summary>
    private void AttentionForwardWidenedKv(Tensor q, Tensor o, Tensor? lse, float scale, AttnDims d, int[]? firstKeys, WidenKvRow widenK, WidenKvRow widenV)
    {
        if (UseGemmAttention(d))
        {
            AttentionForwardGemmWidened(q, o, lse, scale, d, firstKeys, widenK, widenV);
            return;
        }
        var (qa, qo) = Raw(q); var (oa, oo) = Raw(o);
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
                    for (int j = 0; j < d.Tk; j++)
                    {
                        int row = (b * d.Tk + j) * d.Hkv + kh;
                        widenK(row, keys.AsSpan(j * dh, dh));
                        widenV(row, values.AsSpan(j * dh, dh));
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

    /// <summary>The prompt-pass branch of <see cref="AttentionForwardWidenedKv"/>: every key and value row widened into
    /// fp32 tensors [B, Tk, Hkv, Dh] (rows split across threads), then <see cref="AttentionForwardGemm"/> on them.</summary>
    private void AttentionForwardGemmWidened(Tensor q, Tensor o, Tensor? lse, float scale, AttnDims d, int[]? firstKeys, WidenKvRow widenK, WidenKvRow widenV)
    {
        var shape = new Shape(d.B, d.Tk, d.Hkv, d.Dh);
        using var kf = new Tensor(Allocate(DType.F32, shape.NumElements, zero: false), shape, track: false);
        using var vf = new Tensor(Allocate(DType.F32, shape.NumElements, zero: false), shape, track: false);
        var (ka, ko) = Raw(kf); var (va, vo) = Raw(vf);
        int dh = d.Dh;
        CpuParallel.For(d.B * d.Tk * d.Hkv, (long)dh * 4, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                widenK(r, ka.AsSpan(ko + r * dh, dh));
                widenV(r, va.AsSpan(vo + r * dh, dh));
            }
        });
        AttentionForwardGemm(q, kf, vf, scale, o, lse, d, firstKeys);
    }
}
