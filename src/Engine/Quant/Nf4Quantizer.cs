using Engine.Threading;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Engine.Tensors;

namespace Engine.Quant;

/// <summary>
/// Blockwise NF4 quantization, bit-exact with bitsandbytes' CUDA <c>kQuantizeBlockwise&lt;…, NF4&gt;</c> /
/// <c>kDequantizeBlockwise</c> (csrc/cuda/blockwise_quantization.cu): per block of consecutive elements,
/// absmax = max|w| (fp32), x = w · r with r = the fast-math reciprocal of absmax (<see cref="CudaFastReciprocal"/>),
/// code = <see cref="Nf4.Encode"/>(x); dequantized w = <see cref="Nf4.CodeValues"/>[code] · absmax.
/// </summary>
/// <remarks>
/// What the kernel does at the edges, reproduced here: denormal inputs count as zero (flush-to-zero); NaN inputs do
/// not raise the absmax and get code 0; an all-zero block has absmax 0, so x = 0 · ∞ = NaN and every code is 0
/// (dequantizing to -0.0); a partial last block is padded with zeros, so with an odd element count the last low
/// nibble is the code of 0 (7, or 0 when that block's absmax is 0), not a zero nibble.
/// </remarks>
internal static class Nf4Quantizer
{
    public const int DefaultBlockSize = 64;

    /// <summary>FLT_MIN, the smallest normal fp32; fast-math kernels flush anything smaller to zero.</summary>
    internal const float FltMin = 1.17549435E-38f;

    private static readonly Vector256<float>[] ThresholdVectors = CreateThresholdVectors();

    public static int BlockCount(long count, int blockSize) => checked((int)((count + blockSize - 1) / blockSize));

    public static int PackedLength(long count) => checked((int)((count + 1) / 2));

    public static Nf4Blocks Quantize(ReadOnlySpan<float> weight, int blockSize = DefaultBlockSize)
    {
        var packed = new byte[PackedLength(weight.Length)];
        var absmax = new float[BlockCount(weight.Length, blockSize)];
        Quantize(weight, packed, absmax, blockSize);
        return new Nf4Blocks(packed, absmax, weight.Length, blockSize);
    }

    /// <summary>Quantizes bf16 weights (raw bits) without an fp32 copy of the whole tensor.</summary>
    public static Nf4Blocks QuantizeBf16(ReadOnlySpan<ushort> weight, int blockSize = DefaultBlockSize)
    {
        var packed = new byte[PackedLength(weight.Length)];
        var absmax = new float[BlockCount(weight.Length, blockSize)];
        QuantizeBf16(weight, packed, absmax, blockSize);
        return new Nf4Blocks(packed, absmax, weight.Length, blockSize);
    }

    public static unsafe void Quantize(ReadOnlySpan<float> weight, Span<byte> packed, Span<float> absmax,
        int blockSize = DefaultBlockSize)
    {
        fixed (float* w = weight) QuantizeBlocks(new F32Source(w), weight.Length, packed, absmax, blockSize);
    }

    public static unsafe void QuantizeBf16(ReadOnlySpan<ushort> weight, Span<byte> packed, Span<float> absmax,
        int blockSize = DefaultBlockSize)
    {
        fixed (ushort* w = weight) QuantizeBlocks(new Bf16Source(w), weight.Length, packed, absmax, blockSize);
    }

    private interface IBlockSource
    {
        /// <summary>Elements [start, start + length) as fp32, in place or converted into <paramref name="buffer"/>.</summary>
        ReadOnlySpan<float> Load(int start, int length, Span<float> buffer);
    }

    private readonly unsafe struct F32Source(float* values) : IBlockSource
    {
        public ReadOnlySpan<float> Load(int start, int length, Span<float> buffer) => new(values + start, length);
    }

    private readonly unsafe struct Bf16Source(ushort* values) : IBlockSource
    {
        public ReadOnlySpan<float> Load(int start, int length, Span<float> buffer)
        {
            var dst = buffer[..length];
            HalfConversions.BF16ToFloat(new ReadOnlySpan<ushort>(values + start, length), dst);
            return dst;
        }
    }

    private static unsafe void QuantizeBlocks<TSource>(TSource source, int n, Span<byte> packed, Span<float> absmax,
        int blockSize)
        where TSource : struct, IBlockSource
    {
        int blocks = CheckQuantizeArgs(n, packed.Length, absmax.Length, blockSize);
        fixed (byte* pp = packed)
        fixed (float* ap = absmax)
        {
            nint p = (nint)pp, a = (nint)ap;
            ChunkedParallel.For(blocks, blockSize, 1 << 16, Environment.ProcessorCount, (b0, b1) =>
            {
                Span<float> buffer = stackalloc float[blockSize];
                for (int b = b0; b < b1; b++)
                {
                    int start = b * blockSize, len = Math.Min(blockSize, n - start);
                    var dst = new Span<byte>((byte*)p + start / 2, (len + 1) / 2);
                    ((float*)a)[b] = QuantizeBlock(source.Load(start, len, buffer), dst, blockSize);
                }
            });
        }
    }

    /// <summary>Dequantizes all <c>output.Length</c> elements to fp32.</summary>
    public static void Dequantize(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, int blockSize, Span<float> output) =>
        DequantizeRange(packed, absmax, blockSize, 0, output);

    /// <summary>Dequantizes all <c>output.Length</c> elements to bf16 (fp32 product rounded to nearest even, as the
    /// CUDA kernel's bf16 store does).</summary>
    public static void DequantizeBf16(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, int blockSize,
        Span<ushort> output) =>
        DequantizeRangeBf16(packed, absmax, blockSize, 0, output);

    /// <summary>Dequantizes elements [start, start + output.Length) of the flat array; absmax is indexed by global block.</summary>
    public static void DequantizeRange(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, int blockSize, long start,
        Span<float> output) =>
        DequantizeRange<float, F32Store>(packed, absmax, 0, blockSize, start, output);

    public static void DequantizeRangeBf16(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax, int blockSize,
        long start, Span<ushort> output) =>
        DequantizeRange<ushort, Bf16Store>(packed, absmax, 0, blockSize, start, output);

    internal static void CheckBlockSize(int blockSize)
    {
        if (blockSize < 32 || blockSize > 4096 || !BitOperations.IsPow2(blockSize))
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize,
                "NF4 block size must be a power of two from 32 to 4096 (bitsandbytes' supported sizes)");
    }

    private static int CheckQuantizeArgs(int n, int packedLength, int absmaxLength, int blockSize)
    {
        CheckBlockSize(blockSize);
        int blocks = BlockCount(n, blockSize);
        if (packedLength != PackedLength(n))
            throw new ArgumentException($"packed must hold {PackedLength(n)} bytes for {n} elements, got {packedLength}");
        if (absmaxLength != blocks)
            throw new ArgumentException($"absmax must hold {blocks} blocks of {blockSize} for {n} elements, got {absmaxLength}");
        return blocks;
    }

    /// <summary>Quantizes one block (or the partial last one) and returns its absmax.</summary>
    internal static float QuantizeBlock(ReadOnlySpan<float> w, Span<byte> packed, int blockSize)
    {
        float absmax = BlockAbsmax(w, padded: w.Length < blockSize);
        Encode(w, CudaFastReciprocal.Reciprocal(absmax), packed);
        return absmax;
    }

    /// <summary>The kernel's block max: fmaxf over |w| starting at -FLT_MAX (so NaN is skipped), zero padding taking
    /// part in a partial block, denormals flushed to zero.</summary>
    internal static float BlockAbsmax(ReadOnlySpan<float> w, bool padded)
    {
        float m = padded ? 0f : -float.MaxValue;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && w.Length >= 8)
        {
            var mv = Vector256.Create(m);
            ref float src = ref MemoryMarshal.GetReference(w);
            for (; i + 8 <= w.Length; i += 8)
            {
                var a = Vector256.Abs(Vector256.LoadUnsafe(ref src, (nuint)i));
                mv = Vector256.ConditionalSelect(Vector256.GreaterThan(a, mv), a, mv);
            }
            for (int k = 0; k < 8; k++) m = MaxSkippingNaN(m, mv.GetElement(k));
        }
        for (; i < w.Length; i++) m = MaxSkippingNaN(m, float.Abs(w[i]));
        return m >= 0f && m < FltMin ? 0f : m;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxSkippingNaN(float m, float a) => a > m ? a : m;

    /// <summary>Codes of w · r packed two per byte (high nibble first); an odd tail is padded with the code of 0 · r.</summary>
    internal static void Encode(ReadOnlySpan<float> w, float r, Span<byte> packed)
    {
        int n = w.Length;
        if (packed.Length != (n + 1) / 2) throw new ArgumentException("packed length does not match element count");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var rv = Vector256.Create(r);
            var minNormal = Vector256.Create(FltMin);
            var highNibble = Vector256.Create(0xF0L);
            var thresholds = ThresholdVectors;
            ref float src = ref MemoryMarshal.GetReference(w);
            ref byte dst = ref MemoryMarshal.GetReference(packed);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref src, (nuint)i);
                v = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(v), minNormal), Vector256<float>.Zero, v);
                var x = v * rv;
                var code = Vector256<int>.Zero;
                for (int t = 0; t < thresholds.Length; t++) code -= Vector256.GreaterThan(x, thresholds[t]).AsInt32();
                // Each long lane holds (even code, odd code) in its low/high halves; fold both into one byte.
                var pairs = code.AsInt64();
                var bytes = ((pairs << 4) & highNibble) | Vector256.ShiftRightLogical(pairs, 32);
                uint word = (uint)bytes.GetElement(0) | (uint)bytes.GetElement(1) << 8
                    | (uint)bytes.GetElement(2) << 16 | (uint)bytes.GetElement(3) << 24;
                Unsafe.WriteUnaligned(ref Unsafe.Add(ref dst, i / 2), word);
            }
        }
        for (; i < n; i += 2)
        {
            int hi = Nf4.Encode(Scale(w[i], r));
            int lo = Nf4.Encode(i + 1 < n ? Scale(w[i + 1], r) : 0f * r);
            packed[i / 2] = (byte)(hi << 4 | lo);
        }
    }

    /// <summary>w · r with the input flushed to zero when denormal, as the fast-math kernel computes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scale(float w, float r) => (float.Abs(w) < FltMin ? 0f : w) * r;

    private static Vector256<float>[] CreateThresholdVectors()
    {
        var t = Nf4.Thresholds;
        var v = new Vector256<float>[t.Length];
        for (int i = 0; i < t.Length; i++) v[i] = Vector256.Create(t[i]);
        return v;
    }

    internal interface IFloatStore<T>
    {
        static abstract T Convert(float x);
    }

    internal readonly struct F32Store : IFloatStore<float>
    {
        public static float Convert(float x) => x;
    }

    internal readonly struct Bf16Store : IFloatStore<ushort>
    {
        public static ushort Convert(float x) => HalfConversions.FloatToBF16(x);
    }

    /// <summary>Dequantizes elements [start, start + output.Length); <paramref name="absmax"/>[i] is the scale of
    /// global block <paramref name="firstBlock"/> + i. Large ranges run in parallel over blocks.</summary>
    internal static unsafe void DequantizeRange<T, TStore>(ReadOnlySpan<byte> packed, ReadOnlySpan<float> absmax,
        int firstBlock, int blockSize, long start, Span<T> output)
        where T : unmanaged
        where TStore : struct, IFloatStore<T>
    {
        CheckBlockSize(blockSize);
        int n = output.Length;
        if (n == 0) return;
        if (start < 0) throw new ArgumentOutOfRangeException(nameof(start), start, "element offset must not be negative");
        long end = start + n;
        if (PackedLength(end) > packed.Length)
            throw new ArgumentException($"elements up to {end} need {PackedLength(end)} packed bytes, got {packed.Length}");
        int b0 = (int)(start / blockSize), b1 = (int)((end - 1) / blockSize) + 1;
        if (b0 < firstBlock || b1 - firstBlock > absmax.Length)
            throw new ArgumentException($"absmax covers blocks {firstBlock}..{firstBlock + absmax.Length - 1}, " +
                $"elements {start}..{end - 1} need blocks {b0}..{b1 - 1}");
        fixed (byte* pp = packed)
        fixed (float* ap = absmax)
        fixed (T* op = output)
        {
            nint p = (nint)pp, a = (nint)ap, o = (nint)op;
            ChunkedParallel.For(b1 - b0, blockSize, 1 << 16, Environment.ProcessorCount, (c0, c1) =>
            {
                long s = Math.Max(start, (long)(b0 + c0) * blockSize);
                long e = Math.Min(end, (long)(b0 + c1) * blockSize);
                DequantizeSerial<T, TStore>((byte*)p, (float*)a, firstBlock, blockSize, s, (T*)o + (s - start), (int)(e - s));
            });
        }
    }

    private static unsafe void DequantizeSerial<T, TStore>(byte* packed, float* absmax, int firstBlock, int blockSize,
        long e, T* output, int n)
        where T : unmanaged
        where TStore : struct, IFloatStore<T>
    {
        ref float lut = ref MemoryMarshal.GetReference(Nf4.CodeValues);
        int i = 0;
        while (i < n)
        {
            int block = (int)(e / blockSize);
            float a = absmax[block - firstBlock];
            int count = (int)Math.Min((long)(block + 1) * blockSize - e, n - i);
            if ((e & 1) != 0)
            {
                output[i++] = TStore.Convert(Unsafe.Add(ref lut, packed[e >> 1] & 0xF) * a);
                e++;
                count--;
            }
            byte* p = packed + (e >> 1);
            int pairs = count >> 1;
            for (int k = 0; k < pairs; k++)
            {
                byte q = p[k];
                output[i] = TStore.Convert(Unsafe.Add(ref lut, q >> 4) * a);
                output[i + 1] = TStore.Convert(Unsafe.Add(ref lut, q & 0xF) * a);
                i += 2;
            }
            e += 2 * pairs;
            if ((count & 1) != 0)
            {
                output[i++] = TStore.Convert(Unsafe.Add(ref lut, packed[e >> 1] >> 4) * a);
                e++;
            }
        }
    }
}
