using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Engine.Quant;

/// <summary>The GEMV kernels of GGUF inference behind one entry per operation, for every ggml type a weight is kept
/// in: a row of activations is first encoded in the weight type's activation format (ggml's vec_dot_type: q8_0 for
/// q4_0/q5_0/q8_0, q8_1 for q4_1/q5_1, q8_K for the k-quants, see <see cref="LegacyDot"/> and <see cref="KQuantDot"/>),
/// then dotted with weight rows block by block in integers, as llama.cpp's CPU backend does. f32/f16/bf16 weights
/// take fp32 activations and are widened row by row (exact products, unlike llama.cpp's f16 path, which rounds the
/// activations to f16).</summary>
internal static class GgmlDot
{
    /// <summary>Bytes of n activations encoded for weights of <paramref name="weight"/>.</summary>
    public static int ActivationBytes(GgmlType weight, int n)
    {
        if (weight.IsKQuant()) return checked(n / GgmlTypes.QK_K * Q8KActivations.BlockBytes);
        if (weight.IsQuantized()) return checked(n / GgmlTypes.QK * (LegacyDot.TakesQ8_1(weight) ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes));
        return checked(n * sizeof(float));
    }

    /// <summary>Encodes the activation row x (a whole number of the weight type's blocks) for <see cref="DotRows"/>.</summary>
    public static void QuantizeActivations(GgmlType weight, ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (weight.IsKQuant()) Q8KActivations.Quantize(x, dst);
        else if (!weight.IsQuantized()) x.CopyTo(MemoryMarshal.Cast<byte, float>(dst));
        else if (LegacyDot.TakesQ8_1(weight)) Q8Activations.QuantizeQ8_1(x, dst);
        else Q8Activations.QuantizeQ8_0(x, dst);
    }

    /// <summary>dst[i·<paramref name="ldd"/> + r] = row r of <paramref name="rows"/> (count rows of n values) · activation
    /// row i of <paramref name="xq"/> (m rows of <see cref="ActivationBytes"/> each, end to end): the tile of a block
    /// GEMM. Each element equals what <see cref="DotRows"/> gives for its row and activation row, bit for bit.</summary>
    public static void DotTile(GgmlType weight, ReadOnlySpan<byte> rows, int count, ReadOnlySpan<byte> xq, int m, int n, Span<float> dst, int ldd)
    {
        int xb = ActivationBytes(weight, n);
        if (m < 0 || xq.Length < (long)m * xb || ldd < count || (m > 0 && dst.Length < (long)(m - 1) * ldd + count))
            throw new ArgumentException($"a tile of {m} activation rows × {count} weight rows needs {(long)m * xb} activation bytes and a destination of {(long)Math.Max(m - 1, 0) * ldd + count} floats at stride {ldd} ≥ {count}; got {xq.Length} and {dst.Length}");
        if (LegacyDot.HasTile(weight)) LegacyDot.DotTile(weight, rows[..(int)(count * weight.RowSize(n))], count, xq[..(m * xb)], m, n, dst, ldd);
        else for (int i = 0; i < m; i++) DotRows(weight, rows, count, xq.Slice(i * xb, xb), n, dst.Slice(i * ldd, count));
    }

    /// <summary>dst[r] = row r of <paramref name="rows"/> (count rows of n values of <paramref name="weight"/>, laid end
    /// to end) · the encoded activations.</summary>
    public static void DotRows(GgmlType weight, ReadOnlySpan<byte> rows, int count, ReadOnlySpan<byte> xq, int n, Span<float> dst)
    {
        if (weight.IsKQuant())
        {
            KQuantDot.DotRows(weight, rows[..(int)(count * weight.RowSize(n))], count, xq, n, dst[..count], DotIsas.Detected);
            return;
        }
        if (weight.IsQuantized())
        {
            LegacyDot.DotRows(weight, rows[..(int)(count * weight.RowSize(n))], count, xq, n, dst[..count], DotIsas.Detected);
            return;
        }
        var x = MemoryMarshal.Cast<byte, float>(xq)[..n];
        int rowBytes = (int)weight.RowSize(n);
        if (rows.Length < (long)count * rowBytes || dst.Length < count)
            throw new ArgumentException($"{count} rows of {n} {weight.Name()} values need {(long)count * rowBytes} bytes and {count} outputs; got {rows.Length} and {dst.Length}");
        if (weight == GgmlType.F32)
        {
            var w = MemoryMarshal.Cast<byte, float>(rows);
            for (int r = 0; r < count; r++) dst[r] = TensorPrimitives.Dot(w.Slice(r * n, n), x);
            return;
        }
        var wide = ArrayPool<float>.Shared.Rent(n);
        try
        {
            var row = wide.AsSpan(0, n);
            for (int r = 0; r < count; r++)
            {
                var bytes = rows.Slice(r * rowBytes, rowBytes);
                if (weight == GgmlType.F16) TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), row);
                else GgmlBlocks.Dequantize(weight, bytes, row);
                dst[r] = TensorPrimitives.Dot(row, x);
            }
        }
        finally { ArrayPool<float>.Shared.Return(wide); }
    }
}
