using System.Runtime.InteropServices;
using Engine.Quant;

namespace Engine.Backends;

/// <summary>
/// A frozen nn.Linear-shaped weight [Rows = out, Cols = in] kept in the ggml type a GGUF file stores it in (a block
/// type: q8_0, q4_0, …, the k-quants; or plain f32, f16, bf16), byte for byte: row r is <c>Type.RowSize(Cols)</c> bytes
/// (whole blocks). The bytes live in host
/// memory: a copy in a <see cref="HostArena"/> (huge pages: what the loader makes), a view into a memory-mapped file
/// (kept alive by whoever mapped it, which must outlive this weight) or an array of this weight's own. <see cref="RowOrder"/> lets row r of the weight be stored row RowOrder[r], so a
/// permutation of whole rows (llama.cpp's interleaved q/k RoPE layout) costs nothing. Backends that say
/// <see cref="IBackend.SupportsGgmlWeights"/> multiply with it directly (see <see cref="IBackend.GgmlMatMul"/>).
/// </summary>
internal sealed unsafe class GgmlWeight : IDisposable
{
    private readonly byte* _data;
    private GCHandle _pin;

    /// <param name="data">the first byte of row 0; Rows·RowBytes bytes must stay readable while this weight lives.</param>
    public GgmlWeight(string name, GgmlType type, int rows, int cols, byte* data, long byteLength, int[]? rowOrder = null)
    {
        if (!type.IsQuantized() && type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new ArgumentException($"{name}: {type.Name()} is not a ggml type engine multiplies with");
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"{name}: weight shape [{rows}, {cols}] must be positive");
        GgmlBlocks.CheckRowLength(type, cols);
        long rowBytes = type.RowSize(cols);
        if (byteLength != rowBytes * rows)
            throw new ArgumentException($"{name}: {rows} rows of {cols} {type.Name()} values take {rowBytes * rows} bytes; got {byteLength}");
        if (data == null) throw new ArgumentNullException(nameof(data));
        if (rowOrder is not null) CheckOrder(name, rowOrder, rows);
        Name = name;
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = (int)rowBytes;
        _data = data;
        RowOrder = rowOrder;
    }

    /// <summary>A weight that owns its bytes (copied into pinned memory).</summary>
    public static GgmlWeight FromBytes(string name, GgmlType type, int rows, int cols, ReadOnlySpan<byte> bytes, int[]? rowOrder = null)
    {
        var copy = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(copy);
        var pin = GCHandle.Alloc(copy, GCHandleType.Pinned);
        try
        {
            return new GgmlWeight(name, type, rows, cols, (byte*)pin.AddrOfPinnedObject(), copy.LongLength, rowOrder) { _pin = pin };
        }
        catch
        {
            pin.Free();
            throw;
        }
    }

    /// <summary>A weight whose bytes are a copy of <paramref name="bytes"/> taken from <paramref name="arena"/> (huge
    /// pages where the OS gives them), with the rows put in weight order: stored row <paramref name="rowOrder"/>[r]
    /// becomes row r, so the copy needs no row order. The arena owns the memory.</summary>
    public static GgmlWeight CopyInto(HostArena arena, string name, GgmlType type, int rows, int cols, ReadOnlySpan<byte> bytes, int[]? rowOrder = null)
    {
        long rowBytes = type.RowSize(cols);
        if (bytes.Length != rowBytes * rows)
            throw new ArgumentException($"{name}: {rows} rows of {cols} {type.Name()} values take {rowBytes * rows} bytes; got {bytes.Length}");
        if (rowOrder is not null) CheckOrder(name, rowOrder, rows);
        byte* p = arena.Take(bytes.Length);
        if (rowOrder is null) bytes.CopyTo(new Span<byte>(p, bytes.Length));
        else
            for (int r = 0; r < rows; r++)
                bytes.Slice((int)(rowOrder[r] * rowBytes), (int)rowBytes).CopyTo(new Span<byte>(p + r * rowBytes, (int)rowBytes));
        return new GgmlWeight(name, type, rows, cols, p, bytes.Length);
    }

    private static void CheckOrder(string name, int[] rowOrder, int rows)
    {
        if (rowOrder.Length != rows) throw new ArgumentException($"{name}: the row order has {rowOrder.Length} entries for {rows} rows");
        var seen = new bool[rows];
        foreach (int r in rowOrder)
        {
            if ((uint)r >= (uint)rows || seen[r]) throw new ArgumentException($"{name}: the row order is not a permutation of 0..{rows - 1}");
            seen[r] = true;
        }
    }

    /// <summary>The tensor's name, for messages.</summary>
    public string Name { get; }
    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Bytes of one row (whole blocks).</summary>
    public int RowBytes { get; }
    /// <summary>Row r of the weight is stored row RowOrder[r]; null: stored in order.</summary>
    public int[]? RowOrder { get; }
    public long ByteSize => (long)RowBytes * Rows;

    /// <summary>The stored bytes of weight row <paramref name="row"/> (after <see cref="RowOrder"/>).</summary>
    public ReadOnlySpan<byte> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"{Name}: row {row} of {Rows}");
        return new ReadOnlySpan<byte>(_data + (long)(RowOrder?[row] ?? row) * RowBytes, RowBytes);
    }

    /// <summary>Stored rows [first, first + count) as one span, when no row order applies (checked).</summary>
    public ReadOnlySpan<byte> StoredRows(int first, int count)
    {
        if (first < 0 || count < 0 || first > Rows - count) throw new ArgumentOutOfRangeException(nameof(first), $"{Name}: rows {first}..{first + count - 1} of {Rows}");
        return new ReadOnlySpan<byte>(_data + (long)first * RowBytes, checked(count * RowBytes));
    }

    /// <summary>Weight rows [first, first + count) dequantized to fp32 into <paramref name="dst"/> (count·Cols values).</summary>
    public void DequantizeRows(int first, int count, Span<float> dst)
    {
        if (dst.Length != (long)count * Cols) throw new ArgumentException($"{Name}: {count} rows of {Cols} need {(long)count * Cols} values; got {dst.Length}");
        if (RowOrder is null) GgmlBlocks.Dequantize(Type, StoredRows(first, count), dst);
        else
            for (int r = 0; r < count; r++) GgmlBlocks.Dequantize(Type, Row(first + r), dst.Slice(r * Cols, Cols));
    }

    public void Dispose()
    {
        if (_pin.IsAllocated) _pin.Free();
    }
}
