using System.Buffers;

namespace Engine.Checkpoints;

/// <summary>Reorders the rows of a q or k projection ([nHeads·headDim, cols], row-major) between the two RoPE
/// conventions. "Half" is Hugging Face's rotate_half layout (dimension i pairs with i + d/2); "interleaved" is the
/// layout of Meta's original weights, llama2.c and llama.cpp/GGUF (dimension 2i pairs with 2i+1).
/// <see cref="HalfToInterleaved{T}"/> is llama.cpp's converter <c>permute</c>: per head, new row 2i ← old row i and
/// new row 2i+1 ← old row i + d/2. For k pass the number of kv heads. Biases are the cols = 1 case.</summary>
internal static class RopeLayout
{
    public static void HalfToInterleaved<T>(Span<T> weight, int rows, int cols, int nHeads) where T : unmanaged =>
        Permute(weight, rows, cols, nHeads, toInterleaved: true);

    /// <summary>The inverse of <see cref="HalfToInterleaved{T}"/>: per head, new row i ← old row 2i and
    /// new row i + d/2 ← old row 2i+1.</summary>
    public static void InterleavedToHalf<T>(Span<T> weight, int rows, int cols, int nHeads) where T : unmanaged =>
        Permute(weight, rows, cols, nHeads, toInterleaved: false);

    private static void Permute<T>(Span<T> weight, int rows, int cols, int nHeads, bool toInterleaved) where T : unmanaged
    {
        if (rows < 0 || cols < 0 || (long)rows * cols != weight.Length)
            throw new ArgumentException($"a {rows}x{cols} matrix has {(long)rows * cols} elements; the span has {weight.Length}");
        if (nHeads <= 0 || rows % nHeads != 0)
            throw new ArgumentException($"{rows} rows do not split into {nHeads} heads");
        int d = rows / nHeads;
        if (d % 2 != 0) throw new ArgumentException($"head size {d} is odd; RoPE pairs need an even head size");
        int half = d / 2;
        int headLen = d * cols;
        var pool = ArrayPool<T>.Shared.Rent(headLen);
        try
        {
            var old = pool.AsSpan(0, headLen);
            for (int h = 0; h < nHeads; h++)
            {
                var head = weight.Slice(h * headLen, headLen);
                head.CopyTo(old);
                for (int i = 0; i < half; i++)
                {
                    if (toInterleaved)
                    {
                        old.Slice(i * cols, cols).CopyTo(head.Slice(2 * i * cols, cols));
                        old.Slice((i + half) * cols, cols).CopyTo(head.Slice((2 * i + 1) * cols, cols));
                    }
                    else
                    {
                        old.Slice(2 * i * cols, cols).CopyTo(head.Slice(i * cols, cols));
                        old.Slice((2 * i + 1) * cols, cols).CopyTo(head.Slice((i + half) * cols, cols));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(pool);
        }
    }
}
