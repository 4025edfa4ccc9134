using System.Buffers;
using System.Runtime.InteropServices;

namespace Engine.Quant;

/// <summary>The GEMV kernels of GGUF inference behind one entry per operation, for every ggml block type: a row of
/// activations is first encoded in the weight type's activation format (ggml's vec_dot_type), then dotted with
/// weight rows block by block.</summary>
internal static class GgmlDot
{
    /// <summary>Bytes of n activations encoded for weights of <paramref name="weight"/>.</summary>
    public static int ActivationBytes(GgmlType weight, int n) => checked(n * sizeof(float));

    /// <summary>Encodes the activation row x (a whole number of the weight type's blocks) for <see cref="DotRows"/>.</summary>
    public static void QuantizeActivations(GgmlType weight, ReadOnlySpan<float> x, Span<byte> dst) =>
        x.CopyTo(MemoryMarshal.Cast<byte, float>(dst));

    /// <summary>dst[r] = row r of <paramref name="rows"/> (count rows of n values of <paramref name="weight"/>, laid end
    /// to end) · the encoded activations.</summary>
    public static void DotRows(GgmlType weight, ReadOnlySpan<byte> rows, int count, ReadOnlySpan<byte> xq, int n, Span<float> dst)
    {
        var x = MemoryMarshal.Cast<byte, float>(xq)[..n];
        int rowBytes = (int)weight.RowSize(n);
        var w = ArrayPool<float>.Shared.Rent(n);
        try
        {
            for (int r = 0; r < count; r++)
            {
                GgmlBlocks.Dequantize(weight, rows.Slice(r * rowBytes, rowBytes), w.AsSpan(0, n));
                dst[r] = System.Numerics.Tensors.TensorPrimitives.Dot(w.AsSpan(0, n), x);
            }
        }
        finally { ArrayPool<float>.Shared.Return(w); }
    }
}
