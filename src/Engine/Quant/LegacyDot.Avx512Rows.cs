using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The AVX-512 + VBMI kernels of q4_0 and q5_0: four blocks per 512-bit step and four rows per pass.
/// The activations are rearranged once per call into the order of the weights' nibbles (<see cref="Quad"/>), so a
/// step's 64 qs bytes give their 128 codes with one <c>vpand</c> and one <c>vpsrlw</c> + <c>vpand</c>, and the
/// rearranged activations (and their offset term) are loaded once for four weight rows. A step's two 64-byte loads
/// cover its four blocks exactly; one <c>vpermt2b</c> gathers their qs bytes (and, for q5_0, one more their qh words,
/// which <c>vpmultishiftqb</c> turns into bit 4 of each code). Per step and row: int32 sums per lane (lanes 4k..4k+3
/// block k) minus the precomputed offset·Σx, one <c>vcvtdq2ps</c> and one FMA by the blocks' fp32(d_w)·d_x spread with
/// one <c>vpermps</c> from the sixteen scales decoded per group of four steps (their fp16 d picked out of 128-byte
/// windows with <c>vpermt2w</c>, no gather). <c>vpmaddubsw</c> cannot saturate: two code·x pairs of the low and two of
/// the high codes sum to at most 4·31·128 in magnitude. Every row is computed the same way whether it runs in a pass of
/// four or alone, so <c>DotRows</c> equals <c>Dot</c> per row bit for bit. Past the last whole <see cref="QuadGroup"/>,
/// whole four-block steps run the same step with their scales decoded one by one (<see cref="QuadFinish"/>), and the
/// last one to three blocks a 256-bit block step; rows shorter than a group (stories15M's 288 values) are all tail.
/// (The tail was scalar until 2026-12-06: 0.8 GB/s on 288-wide rows against 33 on 4096-wide ones.)</summary>
internal static unsafe partial class LegacyDot
{
    /// <summary>Bytes of one step's rearranged activations: 64 low-nibble partners, 64 high-nibble partners, 16 int32
    /// offset terms.</summary>
    private const int QuadBytes = 192;

    /// <summary>A 4/5-bit type with a constant offset whose four-block steps <see cref="Avx512Quad"/> runs.</summary>
    private interface IQuad
    {
        static abstract int WeightBytes { get; }
        static abstract byte Offset { get; }
        static abstract GgmlType Type { get; }

        /// <summary>The 64 low-nibble codes (lane k: block k's values 0..15) and the 64 high ones (values 16..31) of the
        /// four blocks at <paramref name="w"/>.</summary>
        static abstract void Codes(byte* w, out Vector512<byte> lo, out Vector512<byte> hi);

        /// <summary>The fp16 d of the <see cref="QuadGroup"/> blocks at <paramref name="w"/> in the low half of lanes 0..15
        /// (the high halves unspecified), taken from the same 64-byte loads as <see cref="Codes"/> (no gather).</summary>
        static abstract Vector512<uint> Halves(byte* w);

        /// <summary>The 32 unsigned codes of the one block at <paramref name="w"/> in value order (the tail's block step).</summary>
        static abstract Vector256<byte> BlockCodes(byte* w);
    }

    /// <summary>Blocks per group of the four-block kernels: four steps, whose sixteen scales are decoded in one vector.</summary>
    private const int QuadGroup = 16;

    /// <summary>q4_0: 4 blocks of 18 bytes; loads at +0 and +8.</summary>
    private struct QuadQ4_0 : IQuad
    {
        public static int WeightBytes => 18;
        public static byte Offset => 8;
        public static GgmlType Type => GgmlType.Q4_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Codes(byte* w, out Vector512<byte> lo, out Vector512<byte> hi)
        {
            // qs of block k at 18k + 2; block 3's (56..71) from the second load (64 + 48..63).
            var index = Vector512.Create(0x0908070605040302UL, 0x11100F0E0D0C0B0AUL, 0x1B1A191817161514UL, 0x232221201F1E1D1CUL,
                                         0x2D2C2B2A29282726UL, 0x3534333231302F2EUL, 0x7776757473727170UL, 0x7F7E7D7C7B7A7978UL).AsByte();
            var v = Avx512Vbmi.PermuteVar64x8x2(Vector512.Load(w), index, Vector512.Load(w + 8));
            lo = v & Vector512.Create((byte)0x0F);
            hi = Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & Vector512.Create((byte)0x0F);
        }

        /// <summary>d of block k at byte 18k: blocks 0..7 (bytes 0..127) from loads at +0 and +64 (word 9k), blocks
        /// 8..15 from loads at +144 and +208, the same way.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<uint> Halves(byte* w)
        {
            var index = Vector512.Create((ushort)0, 0, 9, 0, 18, 0, 27, 0, 36, 0, 45, 0, 54, 0, 63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            var h0 = Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)w), index, Vector512.Load((ushort*)(w + 64)));
            var h1 = Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)(w + 144)), index, Vector512.Load((ushort*)(w + 208)));
            return Vector512.Create(h0.GetLower(), h1.GetLower()).AsUInt32();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> BlockCodes(byte* w) => Nibbles256(w + 2);
    }

    /// <summary>q5_0: 4 blocks of 22 bytes; loads at +0 and +24.</summary>
    private struct QuadQ5_0 : IQuad
    {
        public static int WeightBytes => 22;
        public static byte Offset => 16;
        public static GgmlType Type => GgmlType.Q5_0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Codes(byte* w, out Vector512<byte> lo, out Vector512<byte> hi)
        {
            var l0 = Vector512.Load(w);
            var l1 = Vector512.Load(w + 24);
            // qs of block k at 22k + 6: blocks 0, 1 from the first load, 2 (64 + 26..41) and 3 (64 + 48..63) from the second.
            var qsIndex = Vector512.Create(0x0D0C0B0A09080706UL, 0x1514131211100F0EUL, 0x232221201F1E1D1CUL, 0x2B2A292827262524UL,
                                           0x61605F5E5D5C5B5AUL, 0x6968676665646362UL, 0x7776757473727170UL, 0x7F7E7D7C7B7A7978UL).AsByte();
            // qh of block k at 22k + 2, four times per lane: blocks 0..2 from the first load, 3 (64 + 44..47) from the second.
            var qhIndex = Vector512.Create(0x0504030205040302UL, 0x0504030205040302UL, 0x1B1A19181B1A1918UL, 0x1B1A19181B1A1918UL,
                                           0x31302F2E31302F2EUL, 0x31302F2E31302F2EUL, 0x6F6E6D6C6F6E6D6CUL, 0x6F6E6D6C6F6E6D6CUL).AsByte();
            var v = Avx512Vbmi.PermuteVar64x8x2(l0, qsIndex, l1);
            var qh = Avx512Vbmi.PermuteVar64x8x2(l0, qhIndex, l1).AsUInt64();
            // Byte j of a lane takes the 8 bits of its block's qh (held twice per qword) from bit j - 4 (mod 64) up, so
            // its bit 4 is qh bit j; the high codes take bits 16..31.
            var fromLo = Vector512.Create(0x030201003F3E3D3CUL, 0x0B0A090807060504UL, 0x030201003F3E3D3CUL, 0x0B0A090807060504UL,
                                          0x030201003F3E3D3CUL, 0x0B0A090807060504UL, 0x030201003F3E3D3CUL, 0x0B0A090807060504UL).AsByte();
            var fromHi = Vector512.Create(0x131211100F0E0D0CUL, 0x1B1A191817161514UL, 0x131211100F0E0D0CUL, 0x1B1A191817161514UL,
                                          0x131211100F0E0D0CUL, 0x1B1A191817161514UL, 0x131211100F0E0D0CUL, 0x1B1A191817161514UL).AsByte();
            var nib = Vector512.Create((byte)0x0F);
            var bit = Vector512.Create((byte)0x10);
            lo = (v & nib) | (Avx512Vbmi.MultiShift(fromLo, qh) & bit);
            hi = (Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & nib) | (Avx512Vbmi.MultiShift(fromHi, qh) & bit);
        }

        /// <summary>d of block k at byte 22k: blocks 0..5 (bytes 0..111) from loads at +0 and +64 (word 11k), blocks
        /// 6..11 from loads at +132 and +196, blocks 12..15 from loads at +264 and +288 (the last at word 21 of the
        /// second); the three merged by lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<uint> Halves(byte* w)
        {
            var h0 = Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)w), Vector512.Create((ushort)0, 0, 11, 0, 22, 0, 33, 0, 44, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), Vector512.Load((ushort*)(w + 64))).AsUInt32();
            var h1 = Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)(w + 132)), Vector512.Create((ushort)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 22, 0, 33, 0, 44, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0, 0), Vector512.Load((ushort*)(w + 196))).AsUInt32();
            var h2 = Avx512BW.PermuteVar32x16x2(Vector512.Load((ushort*)(w + 264)), Vector512.Create((ushort)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 22, 0, 53, 0), Vector512.Load((ushort*)(w + 288))).AsUInt32();
            var first6 = Vector512.Create(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
            var first12 = Vector512.Create(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0u, 0u, 0u, 0u);
            return Vector512.ConditionalSelect(first12, Vector512.ConditionalSelect(first6, h0, h1), h2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> BlockCodes(byte* w) => Nibbles256(w + 6) | (Bits256(w + 2) & Vector256.Create((byte)0x10));
    }

    /// <summary>Writes the activations of <paramref name="steps"/> four-block steps in the order of <see cref="IQuad.Codes"/>:
    /// per step the low-nibble partners (lane k: block k's values 0..15), the high-nibble partners (16..31), and the
    /// 16 int32 sums offset·(x of the low + the high bytes of the lane's four code positions).</summary>
    private static void Quad(byte* x, int steps, byte offset, byte* dst)
    {
        const int xb = Q8Activations.Q8_0BlockBytes;
        for (int s = 0; s < steps; s++, x += 4 * xb, dst += QuadBytes)
        {
            var xl = Vector512.Create(Vector256.Create(Vector128.Load(x + 2), Vector128.Load(x + xb + 2)),
                                      Vector256.Create(Vector128.Load(x + 2 * xb + 2), Vector128.Load(x + 3 * xb + 2)));
            var xh = Vector512.Create(Vector256.Create(Vector128.Load(x + 18), Vector128.Load(x + xb + 18)),
                                      Vector256.Create(Vector128.Load(x + 2 * xb + 18), Vector128.Load(x + 3 * xb + 18)));
            var o = Vector512.Create(offset);
            var off = Avx512BW.MultiplyAddAdjacent(
                Avx512BW.MultiplyAddAdjacent(o, xl.AsSByte()) + Avx512BW.MultiplyAddAdjacent(o, xh.AsSByte()), Vector512.Create((short)1));
            xl.Store(dst);
            xh.Store(dst + 64);
            off.Store((int*)(dst + 128));
        }
    }

    /// <summary>One step of one row: acc + fp32(Σ (c - offset)·x per lane)·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> QuadStep<TQuad>(byte* w, Vector512<sbyte> xl, Vector512<sbyte> xh, Vector512<int> off,
                                                    Vector512<float> scale, Vector512<float> acc) where TQuad : struct, IQuad
    {
        TQuad.Codes(w, out var lo, out var hi);
        var p = Avx512BW.MultiplyAddAdjacent(lo, xl) + Avx512BW.MultiplyAddAdjacent(hi, xh);
        var s = Avx512BW.MultiplyAddAdjacent(p, Vector512.Create((short)1)) - off;
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s), scale, acc);
    }

    /// <summary>Sixteen blocks' scales (fp32) spread to lanes 4k..4k+3 for block 4·<paramref name="step"/> + k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Spread(Vector512<float> scales, int step) =>
        Avx512F.PermuteVar16x32(scales, Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3) + Vector512.Create(4 * step));

    /// <summary>The fp32(d_w)·d_x of the <see cref="QuadGroup"/> blocks of a row at <paramref name="w"/> (block b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> QuadScales<TQuad>(byte* w, float* dx) where TQuad : struct, IQuad =>
        HalfBits.ToSingles(TQuad.Halves(w)) * Vector512.Load(dx);

    /// <summary>The rows of <paramref name="a"/>: the activations rearranged once (every whole step, the tail's too), then
    /// passes of four rows and the rest one at a time.</summary>
    private static void Avx512Quad<TQuad>(in Rows a) where TQuad : struct, IQuad
    {
        int steps = a.Blocks / 4;
        int bytes = steps * QuadBytes;
        byte[]? rented = bytes > 16384 ? ArrayPool<byte>.Shared.Rent(bytes) : null;
        Span<byte> scratch = rented ?? stackalloc byte[bytes];
        try
        {
            fixed (byte* q = scratch)
            {
                Quad(a.X, steps, TQuad.Offset, q);
                int r = 0;
                for (; r + 4 <= a.Count; r += 4) QuadRows4<TQuad>(a, r, q);
                for (; r < a.Count; r++) a.Dst[r] = QuadRow<TQuad>(a, r, q);
            }
        }
        finally
        {
            if (rented != null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The sum of a row's accumulator and its blocks past the last whole group: the whole four-block steps
    /// (activations rearranged at <paramref name="q"/>, offsets subtracted as <see cref="QuadStep"/> does) with scales
    /// decoded one by one, then the last blocks one 256-bit step each. Every kernel finishes a row here, so a row's
    /// result does not depend on the pass it ran in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float QuadFinish<TQuad>(in Rows a, byte* w, Vector512<float> acc, byte* q) where TQuad : struct, IQuad
    {
        int b = a.Blocks / QuadGroup * QuadGroup, tailSteps = (a.Blocks - b) / 4;
        if (tailSteps > 0) acc = QuadTailSteps<TQuad>(a, w, b, tailSteps, acc, q);
        b += 4 * tailSteps;
        float sum = Vector512.Sum(acc);
        return b < a.Blocks ? sum + QuadTailBlocks<TQuad>(a, w, b) : sum;
    }

    /// <summary>acc plus <paramref name="steps"/> (1–3) four-block steps from block <paramref name="b"/> of the row at
    /// <paramref name="w"/>; their fp32(d_w)·d_x, the same products as <see cref="QuadScales"/>, decoded one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> QuadTailSteps<TQuad>(in Rows a, byte* w, int b, int steps, Vector512<float> acc, byte* q) where TQuad : struct, IQuad
    {
        int wb = TQuad.WeightBytes;
        w += (nint)b * wb;
        // Lane k reads block k's d (and the two bytes after it, inside the block); lanes past the tail read block 0's
        // and are never spread.
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var tail = Vector256.Create(4 * steps);
        var lo = Vector256.ConditionalSelect(Vector256.LessThan(lanes, tail), lanes * wb, Vector256<int>.Zero);
        var hi = Vector256.ConditionalSelect(Vector256.LessThan(lanes + Vector256.Create(8), tail), (lanes + Vector256.Create(8)) * wb, Vector256<int>.Zero);
        var halves = Vector512.Create(Avx2.GatherVector256((int*)w, lo, 1), Avx2.GatherVector256((int*)w, hi, 1)).AsUInt32();
        float* dx = stackalloc float[QuadGroup];
        Vector512<float>.Zero.Store(dx);
        for (int k = 0; k < 4 * steps; k++) dx[k] = a.Dx[b + k];
        var scales = HalfBits.ToSingles(halves) * Vector512.Load(dx);
        for (int s = 0; s < steps; s++, w += 4 * wb, q += QuadBytes)
            acc = QuadStep<TQuad>(w, Vector512.Load((sbyte*)q), Vector512.Load((sbyte*)(q + 64)), Vector512.Load((int*)(q + 128)), Spread(scales, s), acc);
        return acc;
    }

    /// <summary>The blocks from <paramref name="b"/> to the row's end (at most three), one 256-bit step each: the codes
    /// unsigned against the int8 activations, minus offset·Σx, exact for any int8 as the four-block step is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float QuadTailBlocks<TQuad>(in Rows a, byte* w, int b) where TQuad : struct, IQuad
    {
        const int xb = Q8Activations.Q8_0BlockBytes;
        var acc = Vector256<float>.Zero;
        var offset = Vector256.Create(TQuad.Offset);
        var ones = Vector256.Create((short)1);
        for (; b < a.Blocks; b++)
        {
            byte* wk = w + (nint)b * TQuad.WeightBytes;
            var x = Vector256.Load((sbyte*)(a.X + (nint)b * xb + 2));
            var s = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(TQuad.BlockCodes(wk), x), ones)
                  - Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(offset, x), ones);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(HalfBits.At(wk) * a.Dx[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Row <paramref name="r"/> alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QuadRow<TQuad>(in Rows a, int r, byte* q) where TQuad : struct, IQuad
    {
        int wb = TQuad.WeightBytes;
        byte* w0 = a.W + (nint)r * a.RowBytes;
        var acc = Vector512<float>.Zero;
        byte* w = w0;
        for (int b = 0; b + QuadGroup <= a.Blocks; b += QuadGroup)
        {
            var sc = QuadScales<TQuad>(w, a.Dx + b);
            for (int s = 0; s < 4; s++, w += 4 * wb, q += QuadBytes)
                acc = QuadStep<TQuad>(w, Vector512.Load((sbyte*)q), Vector512.Load((sbyte*)(q + 64)), Vector512.Load((int*)(q + 128)), Spread(sc, s), acc);
        }
        return QuadFinish<TQuad>(a, w0, acc, q);
    }

    /// <summary>Rows <paramref name="r"/>..r+3 in one pass: each step's activations loaded once for the four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuadRows4<TQuad>(in Rows a, int r, byte* q) where TQuad : struct, IQuad
    {
        int wb = TQuad.WeightBytes;
        nint rb = a.RowBytes;
        byte* w0 = a.W + r * rb;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        byte* w = w0;
        for (int b = 0; b + QuadGroup <= a.Blocks; b += QuadGroup)
        {
            // The next pass's four rows (contiguous after these), linearly, at the rate this pass consumes its own:
            // one stream running a pass ahead. Prefetching each row's own stream 1 KiB ahead instead left the next
            // pass's row starts cold: an 11008×4096 q4_0 GEMV ran at 14–15 GB/s at one thread, 18–20 with this (`ggml-gemv`).
            byte* next = w0 + 4 * rb + (nint)(b / QuadGroup) * (4 * QuadGroup * wb);
            for (int line = 0; line < 4 * QuadGroup * wb; line += 64) Sse.Prefetch0(next + line);
            var sc0 = QuadScales<TQuad>(w, a.Dx + b);
            var sc1 = QuadScales<TQuad>(w + rb, a.Dx + b);
            var sc2 = QuadScales<TQuad>(w + 2 * rb, a.Dx + b);
            var sc3 = QuadScales<TQuad>(w + 3 * rb, a.Dx + b);
            for (int s = 0; s < 4; s++, w += 4 * wb, q += QuadBytes)
            {
                var xl = Vector512.Load((sbyte*)q);
                var xh = Vector512.Load((sbyte*)(q + 64));
                var off = Vector512.Load((int*)(q + 128));
                acc0 = QuadStep<TQuad>(w, xl, xh, off, Spread(sc0, s), acc0);
                acc1 = QuadStep<TQuad>(w + rb, xl, xh, off, Spread(sc1, s), acc1);
                acc2 = QuadStep<TQuad>(w + 2 * rb, xl, xh, off, Spread(sc2, s), acc2);
                acc3 = QuadStep<TQuad>(w + 3 * rb, xl, xh, off, Spread(sc3, s), acc3);
            }
        }
        a.Dst[r] = QuadFinish<TQuad>(a, w0, acc0, q);
        a.Dst[r + 1] = QuadFinish<TQuad>(a, w0 + rb, acc1, q);
        a.Dst[r + 2] = QuadFinish<TQuad>(a, w0 + 2 * rb, acc2, q);
        a.Dst[r + 3] = QuadFinish<TQuad>(a, w0 + 3 * rb, acc3, q);
    }
}
