namespace Engine.Quant;

/// <summary>Double-quantized NF4 block scales: one 8-bit <see cref="Codes"/> entry per NF4 block, one fp32
/// <see cref="Absmax"/> per <see cref="BlockSize"/> codes, the fp32 <see cref="Offset"/> subtracted before quantizing,
/// and the 256-entry <see cref="CodeMap"/> (bitsandbytes' <c>nested_quant_map</c>). See <see cref="Nf4DoubleQuant"/>.</summary>
internal sealed record Nf4NestedAbsmax(byte[] Codes, float[] Absmax, float Offset, float[] CodeMap,
    int BlockSize = Nf4DoubleQuant.NestedBlockSize)
{
    /// <summary>Dequantized scales of NF4 blocks [firstBlock, firstBlock + output.Length).</summary>
    public void Dequantize(int firstBlock, Span<float> output) =>
        Nf4DoubleQuant.DequantizeAbsmax(Codes, Absmax, Offset, CodeMap, BlockSize, firstBlock, output);
}
