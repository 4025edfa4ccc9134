using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Backends;
using Engine.Formats;
using Engine.Quant;
using Engine.Threading;

namespace Engine.Checkpoints;

/// <summary>Opens a checkpoint tensor stored in a ggml block type as a <see cref="GgmlWeight"/> without
/// dequantizing it: a view into the file's memory map when the source keeps one (GGUF), else a copy of its bytes.</summary>
internal static class GgmlBlockWeights
{
    /// <param name="ropeHeads">for a q/k projection stored in the interleaved RoPE order (llama.cpp's llama
    /// architecture), its number of heads: the weight reads its rows in HF's half-split order through a row order
    /// instead of moving them. 0 otherwise.</param>
    public static unsafe GgmlWeight Open(ITensorSource src, string name, GgmlType type, int[] shape, int ropeHeads)
    {
        if (shape.Length != 2) throw new FileFormatException(src.Path, name, $"is {shape.Length}-D; a ggml block weight is [out, in]");
        int rows = shape[0], cols = shape[1];
        var bytes = src.ReadBytes(name);
        if (bytes.Length != type.RowSize((long)rows * cols))
            throw new FileFormatException(src.Path, name, $"holds {bytes.Length} bytes; [{rows}, {cols}] in {type.Name()} takes {type.RowSize((long)rows * cols)}");
        int[]? order = null;
        if (ropeHeads > 0)
        {
            order = new int[rows];
            for (int i = 0; i < rows; i++) order[i] = i;
            RopeLayout.InterleavedToHalf<int>(order, rows, 1, ropeHeads);
        }
        var w = src.BytesStayMapped
            ? new GgmlWeight(name, type, rows, cols, (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes)), bytes.Length, order)
            : GgmlWeight.FromBytes(name, type, rows, cols, bytes, order);
        try { RequireFinite(src.Path, w); }
        catch { w.Dispose(); throw; }
        return w;
    }

    /// <summary>Refuses a block weight whose values are not all finite (an inf/NaN fp16 scale), naming the tensor and
    /// the first bad row, as dense weights are checked. Dequantizes a few rows at a time, in parallel.</summary>
    private static void RequireFinite(string path, GgmlWeight w)
    {
        int rowsPerItem = Math.Max(1, (1 << 16) / w.Cols);
        int items = (w.Rows + rowsPerItem - 1) / rowsPerItem;
        int firstBad = int.MaxValue;
        ChunkedParallel.For(items, (long)rowsPerItem * w.Cols * 4, 1 << 18, Environment.ProcessorCount, (i0, i1) =>
        {
            var buf = new float[rowsPerItem * w.Cols];
            for (int i = i0; i < i1; i++)
            {
                int r0 = i * rowsPerItem, n = Math.Min(rowsPerItem, w.Rows - r0);
                var span = buf.AsSpan(0, n * w.Cols);
                w.DequantizeRows(r0, n, span);
                for (int j = 0; j < span.Length; j++)
                    if (!float.IsFinite(span[j]))
                    {
                        int row = r0 + j / w.Cols;
                        int seen;
                        while (row < (seen = Volatile.Read(ref firstBad)) && Interlocked.CompareExchange(ref firstBad, row, seen) != seen) { }
                        return;
                    }
            }
        });
        if (firstBad != int.MaxValue)
            throw new FileFormatException(path, w.Name, $"holds a non-finite value in row {firstBad} (an inf or NaN block scale); the checkpoint is damaged");
    }
}
