using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Formats;

/// <summary>Collects named tensors and writes them as .safetensors the way the reference implementation does: header
/// JSON ("__metadata__" first, then tensors) padded with spaces to a multiple of 8 bytes, tensors ordered by element
/// size (largest first, so every tensor stays aligned to its element size) then by name. Files are written atomically
/// (temporary file in the same folder, flushed, renamed).</summary>
internal sealed class SafeTensorsWriter
{
    private readonly List<Item> _items = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    private sealed record Item(string Name, SafeTensorsDType DType, int[] Shape, long Bytes, Action<Stream> Write);

    public SafeTensorsWriter(IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (metadata is not null) foreach (var (k, v) in metadata) Metadata[k] = v;
    }

    /// <summary>The "__metadata__" map written into every file (e.g. {"format": "pt"}); omitted when empty.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public int Count => _items.Count;

    /// <summary>Adds a tensor whose bytes are already in memory (little-endian elements).</summary>
    public void Add(string name, DType dtype, int[] shape, ReadOnlyMemory<byte> data)
    {
        long bytes = Validate(name, dtype, shape);
        if (data.Length != bytes)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype.Name()} needs {bytes} bytes, got {data.Length}");
        AddItem(new Item(name, SafeTensorsDType.From(dtype), (int[])shape.Clone(), bytes, s => s.Write(data.Span)));
    }

    /// <summary>Adds a tensor produced at write time: <paramref name="write"/> must write exactly numel × element size
    /// bytes (checked). Lets large checkpoints be converted without holding every tensor in memory.</summary>
    public void Add(string name, DType dtype, int[] shape, Action<Stream> write)
    {
        long bytes = Validate(name, dtype, shape);
        AddItem(new Item(name, SafeTensorsDType.From(dtype), (int[])shape.Clone(), bytes, write));
    }

    /// <summary>Adds fp32 values stored as <paramref name="storeAs"/> (F32, F16 or BF16; rounding to nearest even).</summary>
    public void AddFloats(string name, int[] shape, ReadOnlyMemory<float> values, DType storeAs = DType.F32)
    {
        if (storeAs is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"tensor '{name}': floats can be stored as f32, f16 or bf16, not {storeAs.Name()}");
        long bytes = Validate(name, storeAs, shape);
        if (values.Length * (long)storeAs.SizeInBytes() != bytes)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] has {bytes / storeAs.SizeInBytes()} elements, got {values.Length} values");
        AddItem(new Item(name, SafeTensorsDType.From(storeAs), (int[])shape.Clone(), bytes, s => WriteFloats(s, values.Span, storeAs)));
    }

    /// <summary>Writes every tensor into one file at <paramref name="path"/>.</summary>
    public void Write(string path)
    {
        var items = Ordered();
        AtomicFile.Write(path, s => WriteFile(s, items));
    }

    /// <summary>Writes into <paramref name="folder"/> as Hugging Face does: one <c>{prefix}.safetensors</c> when
    /// everything fits in <paramref name="maxShardBytes"/>, else <c>{prefix}-00001-of-0000N.safetensors</c>... plus
    /// <c>{prefix}.safetensors.index.json</c> (written last). A tensor larger than the limit gets a shard of its own.
    /// Leftover files of the other layout from an earlier save with the same prefix are removed. Returns the written
    /// file paths (index last).</summary>
    public IReadOnlyList<string> WriteSharded(string folder, long maxShardBytes, string prefix = "model")
    {
        if (maxShardBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), "must be positive");
        Directory.CreateDirectory(folder);
        var items = Ordered();
        var shards = new List<List<Item>>();
        long current = 0;
        foreach (var item in items)
        {
            if (shards.Count == 0 || (current + item.Bytes > maxShardBytes && current > 0))
            {
                shards.Add(new List<Item>());
                current = 0;
            }
            shards[^1].Add(item);
            current += item.Bytes;
        }
        if (shards.Count == 0) shards.Add(new List<Item>());

        var singlePath = Path.Combine(folder, $"{prefix}.safetensors");
        var indexPath = Path.Combine(folder, $"{prefix}.safetensors.index.json");
        var written = new List<string>();
        if (shards.Count == 1)
        {
            AtomicFile.Write(singlePath, s => WriteFile(s, shards[0]));
            written.Add(singlePath);
            RemoveStale(folder, prefix, keep: written);
            TryDelete(indexPath);
            return written;
        }

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            var fileName = $"{prefix}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            var shardPath = Path.Combine(folder, fileName);
            var shard = shards[i];
            AtomicFile.Write(shardPath, s => WriteFile(s, shard));
            written.Add(shardPath);
            foreach (var item in shard) weightMap[item.Name] = fileName;
        }
        long total = items.Sum(i => i.Bytes);
        AtomicFile.Write(indexPath, s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", total);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var (k, v) in weightMap) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        written.Add(indexPath);
        TryDelete(singlePath);
        RemoveStale(folder, prefix, keep: written);
        return written;
    }

    private long Validate(string name, DType dtype, int[] shape)
    {
        if (string.IsNullOrEmpty(name) || name == "__metadata__")
            throw new ArgumentException($"'{name}' is not a usable tensor name");
        if (_names.Contains(name)) throw new ArgumentException($"tensor '{name}' was already added");
        long n = dtype.SizeInBytes();
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]");
            n = checked(n * d);
        }
        return n;
    }

    private void AddItem(Item item)
    {
        _names.Add(item.Name);
        _items.Add(item);
    }

    // Larger element types first, as the reference writer orders by dtype (descending) then name.
    private List<Item> Ordered() => _items.OrderBy(i => -Rank(i.DType)).ThenBy(i => i.Name, StringComparer.Ordinal).ToList();

    private static int Rank(SafeTensorsDType t) => t.Name switch
    {
        "F32" => 5,
        "I32" => 4,
        "BF16" => 3,
        "F16" => 2,
        _ => 1,
    };

    private void WriteFile(Stream s, List<Item> items)
    {
        var header = BuildHeader(items);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        s.Write(len);
        s.Write(header);
        foreach (var item in items)
            AtomicFile.WriteExactly(s, item.Bytes, item.Write, $"tensor '{item.Name}' ({item.DType.Name} [{string.Join(", ", item.Shape)}])");
    }

    private byte[] BuildHeader(List<Item> items)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var item in items)
            {
                w.WriteStartObject(item.Name);
                w.WriteString("dtype", item.DType.Name);
                w.WriteStartArray("shape");
                foreach (int d in item.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + item.Bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += item.Bytes;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    /// <summary>Writes fp32 values as f32, f16 or bf16 little-endian elements.</summary>
    public static void WriteFloats(Stream s, ReadOnlySpan<float> values, DType storeAs)
    {
        if (storeAs == DType.F32)
        {
            s.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        var buffer = new byte[Math.Min(values.Length, 1 << 20) * 2];
        for (int start = 0; start < values.Length; start += buffer.Length / 2)
        {
            int n = Math.Min(buffer.Length / 2, values.Length - start);
            var dst = buffer.AsSpan(0, n * 2);
            if (storeAs == DType.F16) HalfRows.ToF16(values.Slice(start, n), dst);
            else HalfRows.ToBF16(values.Slice(start, n), dst);
            s.Write(dst);
        }
    }

    private static void RemoveStale(string folder, string prefix, List<string> keep)
    {
        var kept = new HashSet<string>(keep.Select(Path.GetFullPath), StringComparer.Ordinal);
        var shardName = new Regex("^" + Regex.Escape(prefix) + @"-\d{5}-of-\d{5}\.safetensors$");
        foreach (var f in Directory.EnumerateFiles(folder, $"{prefix}-*-of-*.safetensors"))
        {
            if (shardName.IsMatch(Path.GetFileName(f)) && !kept.Contains(Path.GetFullPath(f))) TryDelete(f);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
