using System.Buffers;

namespace Engine.Quant;

/// <summary>
/// An NF4-quantized nn.Linear weight [Rows = out_features, Cols = in_features], laid out as bitsandbytes'
/// <c>Params4bit</c>: the row-major flattened weight in blocks of <see cref="BlockSize"/> consecutive elements
/// (a block crosses rows when Cols is not a multiple of it), <see cref="Packed"/> two codes per byte, and per block
/// either an fp32 scale (<see cref="Absmax"/>) or a double-quantized one (<see cref="Nested"/>).
/// </summary>
internal sealed record Nf4Weight
{
    public Nf4Weight(int rows, int cols, int blockSize, byte[] packed, float[]? absmax, Nf4NestedAbsmax? nested,
        string originalDType = "bfloat16")
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"shape [{rows}, {cols}] must be positive");
        Nf4Quantizer.CheckBlockSize(blockSize);
        long count = (long)rows * cols;
        int blocks = Nf4Quantizer.BlockCount(count, blockSize);
        if (packed.Length != Nf4Quantizer.PackedLength(count))
            throw new ArgumentException($"[{rows}, {cols}] needs {Nf4Quantizer.PackedLength(count)} packed bytes, got {packed.Length}");
        if ((absmax is null) == (nested is null))
            throw new ArgumentException("exactly one of absmax (plain) and nested (double-quantized) must be given");
        if (absmax is not null && absmax.Length != blocks)
            throw new ArgumentException($"[{rows}, {cols}] in blocks of {blockSize} needs {blocks} absmax values, got {absmax.Length}");
        if (nested is not null) CheckNested(nested, blocks);
        if (!IsKnownDType(originalDType))
            throw new ArgumentException($"original dtype '{originalDType}' is not one of bfloat16, float16, float32");
        Rows = rows;
        Cols = cols;
        BlockSize = blockSize;
        Packed = packed;
        Absmax = absmax;
        Nested = nested;
        OriginalDType = originalDType;
    }

    public int Rows { get; }
    public int Cols { get; }
    public int BlockSize { get; }
    /// <summary>Codes, element 2j in the high nibble of byte j and 2j+1 in the low nibble.</summary>
    public byte[] Packed { get; }
    /// <summary>fp32 block scales when not double-quantized, else null.</summary>
    public float[]? Absmax { get; }
    /// <summary>Double-quantized block scales, else null.</summary>
    public Nf4NestedAbsmax? Nested { get; }
    /// <summary>The torch dtype name of the weight before quantization (bitsandbytes stores it as "dtype").</summary>
    public string OriginalDType { get; }

    public bool IsDoubleQuantized => Nested is not null;
    public long Count => (long)Rows * Cols;
    public int BlockCount => Nf4Quantizer.BlockCount(Count, BlockSize);

    /// <summary>Bytes of this weight's own quantized data: packed codes plus block scales (u8 codes, nested fp32
    /// scales and the offset when double-quantized, else fp32 scales). The 16- and 256-entry code maps are shared
    /// constants and not counted.</summary>
    public long ByteSize => Packed.LongLength + (Nested is { } n
        ? n.Codes.LongLength + 4L * n.Absmax.LongLength + sizeof(float)
        : 4L * Absmax!.LongLength);

    /// <summary>Quantizes a row-major [rows, cols] weight the way bitsandbytes' <c>Linear4bit</c> does
    /// (NF4, blocks of 64, and with <paramref name="doubleQuant"/> its <c>compress_statistics</c>).</summary>
    public static Nf4Weight Quantize(ReadOnlySpan<float> weight, int rows, int cols, bool doubleQuant = true,
        int blockSize = Nf4Quantizer.DefaultBlockSize, string originalDType = "bfloat16")
    {
        CheckShape(weight.Length, rows, cols);
        return Build(Nf4Quantizer.Quantize(weight, blockSize), rows, cols, doubleQuant, originalDType);
    }

    /// <summary>As <see cref="Quantize"/> for bf16 weights given as raw bits, without an fp32 copy.</summary>
    public static Nf4Weight QuantizeBf16(ReadOnlySpan<ushort> weight, int rows, int cols, bool doubleQuant = true,
        int blockSize = Nf4Quantizer.DefaultBlockSize)
    {
        CheckShape(weight.Length, rows, cols);
        return Build(Nf4Quantizer.QuantizeBf16(weight, blockSize), rows, cols, doubleQuant, "bfloat16");
    }

    /// <summary>The whole weight in fp32, row-major; output.Length must be Rows · Cols.</summary>
    public void Dequantize(Span<float> output) => DequantizeRows(0, Rows, output);

    public void DequantizeBf16(Span<ushort> output) => DequantizeRowsBf16(0, Rows, output);

    /// <summary>Rows [row0, row0 + rowCount) in fp32 without touching the rest of the matrix;
    /// output.Length must be rowCount · Cols.</summary>
    public void DequantizeRows(int row0, int rowCount, Span<float> output) =>
        DequantizeRows<float, Nf4Quantizer.F32Store>(row0, rowCount, output);

    public void DequantizeRowsBf16(int row0, int rowCount, Span<ushort> output) =>
        DequantizeRows<ushort, Nf4Quantizer.Bf16Store>(row0, rowCount, output);

    /// <summary>The fp32 scales of blocks [firstBlock, firstBlock + output.Length), dequantized if nested.</summary>
    public void GetBlockAbsmax(int firstBlock, Span<float> output)
    {
        if (Nested is { } n)
        {
            n.Dequantize(firstBlock, output);
            return;
        }
        if (firstBlock < 0 || firstBlock + output.Length > Absmax!.Length)
            throw new ArgumentException($"blocks {firstBlock}..{firstBlock + output.Length - 1} are outside 0..{Absmax!.Length - 1}");
        Absmax.AsSpan(firstBlock, output.Length).CopyTo(output);
    }

    private void DequantizeRows<T, TStore>(int row0, int rowCount, Span<T> output)
        where T : unmanaged
        where TStore : struct, Nf4Quantizer.IFloatStore<T>
    {
        if (row0 < 0 || rowCount < 0 || row0 > Rows - rowCount)
            throw new ArgumentOutOfRangeException(nameof(row0), $"rows {row0}..{row0 + rowCount - 1} are outside 0..{Rows - 1}");
        if (output.Length != (long)rowCount * Cols)
            throw new ArgumentException($"{rowCount} rows of {Cols} need {(long)rowCount * Cols} values, output holds {output.Length}");
        if (rowCount == 0) return;
        long start = (long)row0 * Cols, end = start + output.Length;
        int b0 = (int)(start / BlockSize), b1 = (int)((end - 1) / BlockSize) + 1;
        if (Nested is null)
        {
            Nf4Quantizer.DequantizeRange<T, TStore>(Packed, Absmax, 0, BlockSize, start, output);
            return;
        }
        float[] scales = ArrayPool<float>.Shared.Rent(b1 - b0);
        try
        {
            Nested.Dequantize(b0, scales.AsSpan(0, b1 - b0));
            Nf4Quantizer.DequantizeRange<T, TStore>(Packed, scales.AsSpan(0, b1 - b0), b0, BlockSize, start, output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    private static Nf4Weight Build(Nf4Blocks blocks, int rows, int cols, bool doubleQuant, string originalDType)
    {
        if (!doubleQuant) return new Nf4Weight(rows, cols, blocks.BlockSize, blocks.Packed, blocks.Absmax, null, originalDType);
        var (codes, nestedAbsmax, offset) = Nf4DoubleQuant.Quantize(blocks.Absmax);
        var nested = new Nf4NestedAbsmax(codes, nestedAbsmax, offset, DynamicQuantMap.Signed.ToArray());
        return new Nf4Weight(rows, cols, blocks.BlockSize, blocks.Packed, null, nested, originalDType);
    }

    private static void CheckShape(int length, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0 || (long)rows * cols != length)
            throw new ArgumentException($"shape [{rows}, {cols}] does not match {length} weight values");
    }

    private static void CheckNested(Nf4NestedAbsmax nested, int blocks)
    {
        if (nested.BlockSize < 64 || nested.BlockSize > 4096 || !System.Numerics.BitOperations.IsPow2(nested.BlockSize))
            throw new ArgumentException($"nested block size {nested.BlockSize} is not a power of two from 64 to 4096");
        if (nested.Codes.Length != blocks)
            throw new ArgumentException($"{blocks} blocks need {blocks} absmax codes, got {nested.Codes.Length}");
        int nestedBlocks = Nf4Quantizer.BlockCount(blocks, nested.BlockSize);
        if (nested.Absmax.Length != nestedBlocks)
            throw new ArgumentException($"{blocks} absmax codes in blocks of {nested.BlockSize} need {nestedBlocks} nested absmax values, got {nested.Absmax.Length}");
        if (nested.CodeMap.Length != 256)
            throw new ArgumentException($"the nested code map has 256 values, got {nested.CodeMap.Length}");
    }

    internal static bool IsKnownDType(string dtype) => dtype is "bfloat16" or "float16" or "float32";
}
