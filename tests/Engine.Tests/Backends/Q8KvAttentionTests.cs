using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Backends;

/// <summary>The CPU attention over a q8_0 KV cache (u8 [B, Tk, Hkv, Dh/32·34], each head row its ggml block_q8_0s:
/// fp16 d, then 32 int8 qs) against fp32 attention on the values those blocks hold, decoded here from the layout
/// (value = qs·d): o and lse bit for bit, for a prompt pass (the fp32 path's SGEMM branch), a few queries after cached
/// keys, and one decoded token, with grouped-query heads.</summary>
public sealed class Q8KvAttentionTests
{
    private const int BlockBytes = 34;

    [Theory]
    [InlineData(1, 20, 20, 4, 2, 64, 0)]   // prefill of 20 queries, GQA 4/2: the SGEMM branch
    [InlineData(2, 17, 17, 6, 2, 32, 0)]   // two rows, group of 3
    [InlineData(1, 3, 12, 4, 2, 64, 0)]    // 3 queries after 9 cached keys
    [InlineData(1, 1, 37, 4, 2, 64, 0)]    // one decoded token after 36 cached
    [InlineData(1, 1, 37, 8, 2, 96, 9)]    // one decoded token under a sliding window of 9
    public void Q8_0_keys_and_values_give_the_fp32_result_of_their_dequantized_values(int b, int tq, int tk, int h, int hkv, int dh, int window)
    {
        var cpu = CpuBackend.Instance;
        var rng = new Rng((ulong)(tq * 13 + tk * 5 + dh + window));
        using var scope = new TensorScope();
        var qs = new Shape(b, tq, h, dh);
        var ks = new Shape(b, tk, hkv, dh);
        float[] q = Normal(rng, qs.NumElements), k = Normal(rng, ks.NumElements), v = Normal(rng, ks.NumElements);
        var kBlocks = Quantize(k);
        var vBlocks = Quantize(v);
        float[] kr = Decode(kBlocks), vr = Decode(vBlocks);
        Assert.NotEqual(k, kr); // the rounding is real
        var bs = new Shape(b, tk, hkv, dh / 32 * BlockBytes);
        var mask = window > 0 ? AttentionMask.ForWindow(window) : null;
        var o8 = cpu.Empty(qs, DType.F32);
        var l8 = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), Bytes(cpu, kBlocks, bs), Bytes(cpu, vBlocks, bs), 0.125f, o8, l8, mask);
        var o32 = cpu.Empty(qs, DType.F32);
        var l32 = cpu.Empty(new Shape(b, h, tq), DType.F32);
        cpu.AttentionForward(cpu.FromFloats(q, qs, DType.F32), cpu.FromFloats(kr, ks, DType.F32), cpu.FromFloats(vr, ks, DType.F32), 0.125f, o32, l32, mask);
        Assert.Equal(o32.F32().ToArray(), o8.F32().ToArray());
        Assert.Equal(l32.F32().ToArray(), l8.F32().ToArray());
    }

    /// <summary>The cache's quantizer (ggml-cpu's x86 <c>quantize_row_q8_0</c>; KvCacheQ8Tests holds the cache's bytes
    /// to a restatement of it). Only the decoded values matter here.</summary>
    private static byte[] Quantize(float[] x)
    {
        var y = new byte[x.Length / 32 * BlockBytes];
        Q8Activations.QuantizeQ8_0(x, y);
        return y;
    }

    /// <summary>block_q8_0 decoded from its layout: little-endian fp16 d at byte 0, int8 qs at bytes 2..33.</summary>
    private static float[] Decode(byte[] blocks)
    {
        var x = new float[blocks.Length / BlockBytes * 32];
        for (int blk = 0; blk < blocks.Length / BlockBytes; blk++)
        {
            int at = blk * BlockBytes;
            float d = (float)BitConverter.UInt16BitsToHalf((ushort)(blocks[at] | blocks[at + 1] << 8));
            for (int j = 0; j < 32; j++) x[blk * 32 + j] = (sbyte)blocks[at + 2 + j] * d;
        }
        return x;
    }

    private static Tensor Bytes(IBackend be, byte[] data, Shape shape)
    {
        var t = be.Zeros(shape, DType.U8);
        data.CopyTo(t.U8());
        return t;
    }

    private static float[] Normal(Rng rng, long n)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, 1.0);
        return v;
    }
}
