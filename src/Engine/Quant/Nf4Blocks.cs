namespace Engine.Quant;

/// <summary>A flat NF4-quantized array: <see cref="Packed"/> holds two codes per byte (element 2j in the high nibble,
/// 2j+1 in the low nibble, bitsandbytes order) and <see cref="Absmax"/> one fp32 scale per block of
/// <see cref="BlockSize"/> consecutive elements.</summary>
internal sealed record Nf4Blocks(byte[] Packed, float[] Absmax, int Count, int BlockSize)
{
    public void Dequantize(Span<float> output)
    {
        CheckLength(output.Length);
        Nf4Quantizer.Dequantize(Packed, Absmax, BlockSize, output);
    }

    public void DequantizeBf16(Span<ushort> output)
    {
        CheckLength(output.Length);
        Nf4Quantizer.DequantizeBf16(Packed, Absmax, BlockSize, output);
    }

    private void CheckLength(int length)
    {
        if (length != Count) throw new ArgumentException($"output holds {length} elements, the quantized array {Count}");
    }
}
