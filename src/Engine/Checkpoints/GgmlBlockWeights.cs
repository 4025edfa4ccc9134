using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Backends;
using Engine.Formats;
using Engine.Quant;
using Engine.Threading;

namespace Engine.Checkpoints;

/// <summary>Where GGUF weights kept in their ggml types live on the CPU.</summary>
internal enum GgmlPlacement
{
    /// <summary>Copied into huge-page host memory (<see cref="HostArena"/>), q/k rows put in HF order, the file's pages
    /// released after each copy: decode streams them about 1.6–2× faster than through the file's 4 KiB pages.</summary>
    HostMemory,
    /// <summary>Read in place from the file's memory map (instant load, pages shared with other processes).</summary>
    Mapped,
}

/// <summary>Opens a checkpoint tensor stored in a ggml type as a <see cref="GgmlWeight"/> without converting it: a copy
/// in a huge-page arena (the default), or a view into the file's memory map.</summary>
internal static class GgmlBlockWeights
{
    /// <param name="ropeHeads">for a q/k projection stored in the interleaved RoPE order (llama.cpp's llama
    /// architecture), its number of heads: the weight reads its rows in HF's half-split order through a row order
    /// instead of moving them. 0 otherwise.</param>
    /// <param name="arena">where copies go (<see cref="GgmlPlacement.HostMemory"/>, or any source whose bytes are not
    /// mapped).</param>
    public static unsafe GgmlWeight Open(ITensorSource src, string name, GgmlType type, int[] shape, int ropeHeads, GgmlPlacement placement, HostArena arena)
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
        byte* source = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
        GgmlWeight w;
        if (src.BytesStayMapped && placement == GgmlPlacement.Mapped) w = new GgmlWeight(name, type, rows, cols, source, bytes.Length, order);
        else
        {
            w = GgmlWeight.CopyInto(arena, name, type, rows, cols, bytes, order);
            if (src.BytesStayMapped) HostMemory.Release(source, bytes.Length); // the copy is what stays resident
        }
        try { RequireFinite(src.Path, w); }
        catch { w.Dispose(); throw; }
        return w;
    }

    /// <summary>Refuses a block weight whose values are not all finite (an inf/NaN fp16 scale), naming the tensor and
    /// the first bad row, as dense weights are checked. Block types whose every value is an integer code times its
    /// block's fp16 scales (<see cref="HalfScaleFields"/>) are checked on those fields alone: a value is non-finite
    /// exactly where one of them is (finite scales times these codes stay far inside fp32's range; an infinite or NaN
    /// scale makes its values inf or NaN, inf·0 included). Other types are dequantized a few rows at a time. Both in
    /// parallel.</summary>
    private static void RequireFinite(string path, GgmlWeight w)
    {
        var fields = HalfScaleFields(w.Type);
        int rowsPerItem = Math.Max(1, (1 << 16) / w.Cols);
        int items = (w.Rows + rowsPerItem - 1) / rowsPerItem;
        int firstBad = int.MaxValue;
        ChunkedParallel.For(items, (long)rowsPerItem * w.Cols * 4, 1 << 18, Environment.ProcessorCount, (i0, i1) =>
        {
            int r1 = Math.Min(i1 * rowsPerItem, w.Rows);
            if (fields is not null)
            {
                for (int r = i0 * rowsPerItem; r < r1; r++)
                    if (!ScalesFinite(w.Row(r), w.Type.TypeSize(), fields)) { Record(ref firstBad, r); return; }
                return;
            }
            var buf = new float[rowsPerItem * w.Cols];
            for (int i = i0; i < i1; i++)
            {
                int r0 = i * rowsPerItem, n = Math.Min(rowsPerItem, w.Rows - r0);
                var span = buf.AsSpan(0, n * w.Cols);
                w.DequantizeRows(r0, n, span);
                for (int j = 0; j < span.Length; j++)
                    if (!float.IsFinite(span[j])) { Record(ref firstBad, r0 + j / w.Cols); return; }
            }
        });
        if (firstBad != int.MaxValue)
            throw new FileFormatException(path, w.Name, $"holds a non-finite value in row {firstBad} (an inf or NaN block scale); the checkpoint is damaged");
    }

    private static void Record(ref int firstBad, int row)
    {
        int seen;
        while (row < (seen = Volatile.Read(ref firstBad)) && Interlocked.CompareExchange(ref firstBad, row, seen) != seen) { }
    }

    /// <summary>The byte offsets, within a block, of the fp16 scales every value of <paramref name="type"/> is
    /// multiplied by (and of the mins added), as ggml lays them out; null for the types checked by dequantizing.</summary>
    internal static int[]? HalfScaleFields(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => [0],   // d, then the codes
        GgmlType.Q4_1 or GgmlType.Q5_1 => [0, 2],                 // d, m
        GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],                 // d, dmin, then 6-bit scales and codes
        GgmlType.Q2_K => [80, 82],                                // 16 scale bytes, 64 code bytes, d, dmin
        GgmlType.Q3_K => [108],                                   // 32 high-bit bytes, 64 code bytes, 12 scale bytes, d
        GgmlType.Q6_K => [208],                                   // 128 + 64 code bytes, 16 int8 scales, d
        _ => null,
    };

    /// <summary>Whether every block of <paramref name="row"/> has finite fp16 values at <paramref name="fields"/>.</summary>
    private static bool ScalesFinite(ReadOnlySpan<byte> row, int blockBytes, int[] fields)
    {
        for (int b = 0; b < row.Length; b += blockBytes)
            foreach (int f in fields)
                if ((System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(row[(b + f)..]) & 0x7C00) == 0x7C00) return false;
        return true;
    }
}
