using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

/// <summary>Decode attention (a few queries against cached keys and values) read straight from where the cache keeps
/// them, fp32, f16 or q8_0 blocks, on AVX-512: per query a 16-lane dot product per visible key, the softmax, then the
/// values summed into the output held in registers, converting each stored row to fp32 as it is loaded (exactly, so the
/// three storage types give the same bits for the same values). It replaced widening each head's cache rows into fp32
/// buffers and one library call per key for the dot and another for the value update: at Llama-2-7B's shape and 528
/// cached tokens that took about 48 ms of a 190 ms token on two threads (bench/RESULTS.md).</summary>
internal sealed partial class CpuBackend
{
    /// <summary>Whether <see cref="AttentionForwardFused"/> serves a call: AVX-512 and a head size of whole vectors.</summary>
    private static bool UseFusedDecodeAttention(AttnDims d) => Avx512F.IsSupported && d.Dh % 16 == 0;

    /// <summary>How one stored key or value row is read: lanes [16i, 16i + 16) of the row at <c>row</c> as fp32.</summary>
    private unsafe interface IKvRows
    {
        static abstract Vector512<float> Load(byte* row, int i);
    }

    private unsafe struct F32Rows : IKvRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) => Vector512.Load((float*)row + 16 * i);
    }

    private unsafe struct F16Rows : IKvRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) =>
            HalfBits.ToSingles(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + 16 * i)));
    }

    /// <summary>ggml block_q8_0 rows (fp16 d, 32 int8 qs): value = qs·d, as <see cref="BlockQ8_0.Dequantize"/> gives.</summary>
    private unsafe struct Q8_0Rows : IKvRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i)
        {
            byte* block = row + (i >> 1) * Q8Activations.Q8_0BlockBytes;
            var qs = Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(block + 2 + (i & 1) * 16)));
            return Avx512F.ConvertToVector512Single(qs) * HalfBits.At(block);
        }
    }

    /// <summary>Attention forward for <see cref="UseFusedDecodeAttention"/>: one work item per (batch row, query head),
    /// keys and values read in place from <paramref name="k"/>, <paramref name="v"/> (fp32, f16 or q8_0 blocks as u8).</summary>
    private unsafe void AttentionForwardFused(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys)
    {
        if (k.DType == DType.F16) AttentionForwardFused<F16Rows>(q, k, v, scale, o, lse, d, firstKeys, sizeof(ushort));
        else if (k.DType == DType.U8) AttentionForwardFused<Q8_0Rows>(q, k, v, scale, o, lse, d, firstKeys, 1);
        else AttentionForwardFused<F32Rows>(q, k, v, scale, o, lse, d, firstKeys, sizeof(float));
    }

    private unsafe void AttentionForwardFused<TKv>(Tensor q, Tensor k, Tensor v, float scale, Tensor o, Tensor? lse, AttnDims d, int[]? firstKeys, int elementBytes)
        where TKv : struct, IKvRows
    {
        if (k.DType != v.DType) throw new ArgumentException($"attention wants k and v of one type, got {k} and {v}");
        if (k.DType == DType.F16) { k.U16(); v.U16(); }
        else if (k.DType == DType.U8) { k.U8(); v.U8(); }
        else { k.F32(); v.F32(); } // each checks its view
        var (qa, qo) = Raw(q); var (oa, oo) = Raw(o);
        float[]? la = null; int lo = 0;
        if (lse is not null) (la, lo) = Raw(lse);
        var (kArr, kOff) = ((Array)((CpuStorage)k.Storage).Data, k.Offset * elementBytes);
        var (vArr, vOff) = ((Array)((CpuStorage)v.Storage).Data, v.Offset * elementBytes);
        nint headBytes = (nint)k.Shape[3] * elementBytes, rowBytes = headBytes * d.Hkv;
        if (d.Group > 1)
        {
            AttentionForwardFusedGroups<TKv>(qa, qo, oa, oo, la, lo, kArr, kOff, vArr, vOff, headBytes, rowBytes, scale, d, firstKeys);
            return;
        }
        CpuParallel.For(d.B * d.H, (long)d.Tq * d.Tk * d.Dh * 2, (w0, w1) =>
        {
            var scores = ArrayPool<float>.Shared.Rent(d.Tk);
            try
            {
                fixed (float* pq = qa, po = oa, ps = scores)
                fixed (float* pl = la)
                fixed (byte* pk = &MemoryMarshal.GetArrayDataReference(kArr), pv = &MemoryMarshal.GetArrayDataReference(vArr))
                {
                    for (int w = w0; w < w1; w++)
                    {
                        int b = w / d.H, h = w % d.H;
                        nint kv = (nint)b * d.Tk * rowBytes + h / d.Group * headBytes;
                        for (int t = 0; t < d.Tq; t++)
                        {
                            int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
                            nint at = ((nint)(b * d.Tq + t) * d.H + h) * d.Dh;
                            float* lseAt = pl is null ? null : pl + lo + (b * d.H + h) * d.Tq + t;
                            AttendFused<TKv>(pq + qo + at, pk + kOff + kv, pv + vOff + kv, rowBytes, po + oo + at, lseAt, scale, d.Dh, first, last, ps);
                        }
                    }
                }
            }
            finally { ArrayPool<float>.Shared.Return(scores); }
        });
    }

    /// <summary>Grouped-query heads: one work item per (batch row, kv head), each key and value row converted once into a
    /// small fp32 buffer and used by every query head of the group (Llama 3, Mistral, Qwen, TinyLlama share a kv head
    /// between 4–8 query heads). The same dot products and the same FMA per output value in the same key order as
    /// <see cref="AttendFused"/> (<see cref="Dot{TKv}"/>), so a head gives the same bits either way.</summary>
    private unsafe void AttentionForwardFusedGroups<TKv>(float[] qa, int qo, float[] oa, int oo, float[]? la, int lo, Array kArr, long kOff, Array vArr, long vOff,
                                                         nint headBytes, nint rowBytes, float scale, AttnDims d, int[]? firstKeys) where TKv : struct, IKvRows
    {
        int g = d.Group, dh = d.Dh, nv = dh / 16;
        CpuParallel.For(d.B * d.Hkv, (long)g * d.Tq * d.Tk * dh * 2, (w0, w1) =>
        {
            var scores = ArrayPool<float>.Shared.Rent(g * d.Tk);
            var rows = ArrayPool<float>.Shared.Rent(dh + 16);
            var outs = ArrayPool<float>.Shared.Rent(g * dh + 16);
            try
            {
                fixed (float* pq = qa, po = oa, ps = scores, pr = rows, pacc = outs)
                fixed (float* pl = la)
                fixed (byte* pk = &MemoryMarshal.GetArrayDataReference(kArr), pv = &MemoryMarshal.GetArrayDataReference(vArr))
                {
                    for (int w = w0; w < w1; w++)
                    {
                        int b = w / d.Hkv, kh = w % d.Hkv;
                        byte* k = pk + (nint)kOff + (nint)b * d.Tk * rowBytes + kh * headBytes;
                        byte* v = pv + (nint)vOff + (nint)b * d.Tk * rowBytes + kh * headBytes;
                        for (int t = 0; t < d.Tq; t++)
                        {
                            int first = firstKeys is null ? 0 : firstKeys[b * d.Tq + t], last = t + d.Offset;
                            float* q0 = pq + qo + ((nint)(b * d.Tq + t) * d.H + kh * g) * dh; // the group's heads are adjacent
                            if (nv == 4) ScoresInRegisters<TKv>(q0, k, rowBytes, g, ps, d.Tk, first, last, scale, wide: false);
                            else if (nv == 8) ScoresInRegisters<TKv>(q0, k, rowBytes, g, ps, d.Tk, first, last, scale, wide: true);
                            else
                            {
                                for (int j = first; j <= last; j++)
                                {
                                    byte* row = k + j * rowBytes;
                                    for (int i = 0; i < nv; i++) TKv.Load(row, i).Store(pr + 16 * i);
                                    for (int hg = 0; hg < g; hg++) ps[hg * d.Tk + j] = scale * Dot<F32Rows>(q0 + hg * dh, (byte*)pr, nv);
                                }
                            }
                            for (int hg = 0; hg < g; hg++)
                            {
                                float* sc = ps + hg * d.Tk;
                                float max = float.NegativeInfinity;
                                for (int j = first; j <= last; j++) if (sc[j] > max) max = sc[j];
                                double sum = 0;
                                for (int j = first; j <= last; j++) { float e = MathF.Exp(sc[j] - max); sc[j] = e; sum += e; }
                                float inv = (float)(1.0 / sum);
                                for (int j = first; j <= last; j++) sc[j] *= inv;
                                if (pl is not null) pl[lo + (b * d.H + kh * g + hg) * d.Tq + t] = max + (float)Math.Log(sum);
                            }
                            new Span<float>(pacc, g * dh).Clear();
                            if (nv == 4) AccumulateValuesInRegisters<TKv>(v, rowBytes, g, ps, d.Tk, first, last, pacc, wide: false);
                            else if (nv == 8) AccumulateValuesInRegisters<TKv>(v, rowBytes, g, ps, d.Tk, first, last, pacc, wide: true);
                            else for (int j = first; j <= last; j++)
                            {
                                byte* row = v + j * rowBytes;
                                for (int i = 0; i < nv; i++) TKv.Load(row, i).Store(pr + 16 * i);
                                for (int hg = 0; hg < g; hg++)
                                {
                                    var p = Vector512.Create(ps[hg * d.Tk + j]);
                                    float* acc = pacc + hg * dh;
                                    for (int i = 0; i < nv; i++)
                                        Avx512F.FusedMultiplyAdd(Vector512.Load(pr + 16 * i), p, Vector512.Load(acc + 16 * i)).Store(acc + 16 * i);
                                }
                            }
                            new Span<float>(pacc, g * dh).CopyTo(new Span<float>(po + oo + ((nint)(b * d.Tq + t) * d.H + kh * g) * dh, g * dh));
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
                ArrayPool<float>.Shared.Return(rows);
                ArrayPool<float>.Shared.Return(outs);
            }
        });
    }

    /// <summary>q·k over <paramref name="nv"/> vectors of 16, the key row read through <typeparamref name="TKv"/>: two
    /// FMA chains, then one horizontal sum (the one dot product every decode attention path uses).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Dot<TKv>(float* q, byte* row, int nv) where TKv : struct, IKvRows
    {
        Vector512<float> a0 = default, a1 = default;
        int i = 0;
        for (; i + 2 <= nv; i += 2)
        {
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 16 * i), TKv.Load(row, i), a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 16 * i + 16), TKv.Load(row, i + 1), a1);
        }
        if (i < nv) a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 16 * i), TKv.Load(row, i), a0);
        return Vector512.Sum(a0 + a1);
    }

    /// <summary>One query: o = softmax(scale·q·Kᵀ over keys first..last)·V and, when asked, its logsumexp; key and value
    /// row j at j·<paramref name="rowBytes"/> from <paramref name="k"/>, <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AttendFused<TKv>(float* q, byte* k, byte* v, nint rowBytes, float* o, float* lse, float scale, int dh, int first, int last, float* scores)
        where TKv : struct, IKvRows
    {
        int nv = dh / 16;
        float max = float.NegativeInfinity;
        for (int j = first; j <= last; j++)
        {
            float s = scale * Dot<TKv>(q, k + j * rowBytes, nv);
            scores[j] = s;
            if (s > max) max = s;
        }
        double sum = 0;
        for (int j = first; j <= last; j++) { float e = MathF.Exp(scores[j] - max); scores[j] = e; sum += e; }
        float inv = (float)(1.0 / sum);
        // The output in registers, four vectors (64 values) at a time.
        for (int c = 0; c < nv; c += 4)
        {
            int cn = Math.Min(4, nv - c);
            Vector512<float> o0 = default, o1 = default, o2 = default, o3 = default;
            for (int j = first; j <= last; j++)
            {
                byte* row = v + j * rowBytes;
                var p = Vector512.Create(scores[j] * inv);
                o0 = Avx512F.FusedMultiplyAdd(TKv.Load(row, c), p, o0);
                if (cn > 1) o1 = Avx512F.FusedMultiplyAdd(TKv.Load(row, c + 1), p, o1);
                if (cn > 2) o2 = Avx512F.FusedMultiplyAdd(TKv.Load(row, c + 2), p, o2);
                if (cn > 3) o3 = Avx512F.FusedMultiplyAdd(TKv.Load(row, c + 3), p, o3);
            }
            o0.Store(o + 16 * c);
            if (cn > 1) o1.Store(o + 16 * c + 16);
            if (cn > 2) o2.Store(o + 16 * c + 32);
            if (cn > 3) o3.Store(o + 16 * c + 48);
        }
        if (lse is not null) *lse = max + (float)Math.Log(sum);
    }
}
