using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Engine.Quant;

namespace Engine.Formats;

/// <summary>Writes a GGUF v3 file: metadata in insertion order, tensor infos in insertion order, the data section
/// aligned to <c>general.alignment</c> (uint32, default 32) with every tensor padded to the alignment. The file is
/// written atomically (temporary file in the same folder, flushed, renamed). Names are written as given.</summary>
internal sealed class GgufWriter
{
    /// <summary>ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL.</summary>
    public const int MaxTensorNameBytes = 63;

    private readonly List<KeyValuePair<string, GgufValue>> _metadata = new();
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<Item> _tensors = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    private sealed record Item(string Name, GgmlType Type, long[] Dims, long Bytes, Action<Stream> Write);

    public int TensorCount => _tensors.Count;
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _metadata;

    public void Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' was already added");
        if (key == "general.alignment")
        {
            if (!value.TryAs(out uint a) || a == 0 || (a & (a - 1)) != 0)
                throw new ArgumentException($"general.alignment must be a uint32 power of two, got {value}");
        }
        _metadata.Add(new(key, value));
    }

    public void AddString(string key, string value) => Add(key, GgufValue.String(value));
    public void AddU32(string key, uint value) => Add(key, GgufValue.U32(value));
    public void AddI32(string key, int value) => Add(key, GgufValue.I32(value));
    public void AddF32(string key, float value) => Add(key, GgufValue.F32(value));
    public void AddBool(string key, bool value) => Add(key, GgufValue.Bool(value));
    public void AddArray<T>(string key, T[] items) => Add(key, GgufValue.Array(items));

    /// <summary>Adds a tensor whose stored bytes (already in <paramref name="type"/>'s layout) are in memory.
    /// <paramref name="shape"/> is in PyTorch order; it is written reversed as ggml dims.</summary>
    public void AddTensor(string name, GgmlType type, int[] shape, ReadOnlyMemory<byte> data)
    {
        var (dims, bytes) = Validate(name, type, shape);
        if (data.Length != bytes)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] as {type.Name()} takes {bytes} bytes, got {data.Length}");
        _names.Add(name);
        _tensors.Add(new Item(name, type, dims, bytes, s => s.Write(data.Span)));
    }

    /// <summary>Adds a tensor whose bytes are produced at write time; <paramref name="write"/> must write exactly the
    /// stored size (checked).</summary>
    public void AddTensor(string name, GgmlType type, int[] shape, Action<Stream> write)
    {
        var (dims, bytes) = Validate(name, type, shape);
        _names.Add(name);
        _tensors.Add(new Item(name, type, dims, bytes, write));
    }

    /// <summary>Adds fp32 values to be stored as <paramref name="type"/> (converted or quantized at write time with
    /// ggml's reference quantizers). Rows (the last dimension) must be a whole number of blocks.</summary>
    public void AddTensorFloats(string name, GgmlType type, int[] shape, ReadOnlyMemory<float> values)
    {
        var (dims, bytes) = Validate(name, type, shape);
        long numel = dims.Aggregate(1L, (a, d) => a * d);
        if (values.Length != numel)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] has {numel} elements, got {values.Length} values");
        _names.Add(name);
        _tensors.Add(new Item(name, type, dims, bytes, s =>
        {
            var buffer = new byte[bytes];
            GgmlBlocks.Quantize(type, values.Span, buffer);
            s.Write(buffer);
        }));
    }

    public void Write(string path)
    {
        uint alignment = GgufFile.DefaultAlignment;
        foreach (var kv in _metadata)
        {
            if (kv.Key == "general.alignment") alignment = (uint)kv.Value.Value;
        }
        var offsets = new long[_tensors.Count];
        long offset = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = offset;
            offset = Align(offset + _tensors[i].Bytes, alignment);
        }
        AtomicFile.Write(path, s =>
        {
            using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            w.Write(GgufFile.Magic);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, value) in _metadata)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WriteValue(w, value);
            }
            for (int i = 0; i < _tensors.Count; i++)
            {
                var t = _tensors[i];
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                foreach (var d in t.Dims) w.Write((ulong)d);
                w.Write((uint)t.Type);
                w.Write((ulong)offsets[i]);
            }
            w.Flush();
            // With no tensors there is no data section; reference writers end the file right after the header.
            if (_tensors.Count == 0) return;
            WritePadding(s, alignment);
            foreach (var t in _tensors)
            {
                AtomicFile.WriteExactly(s, t.Bytes, t.Write, $"tensor '{t.Name}' ({t.Type.Name()} [{string.Join(", ", t.Dims)}])");
                WritePadding(s, alignment);
            }
        });
    }

    private (long[] Dims, long Bytes) Validate(string name, GgmlType type, int[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes)
            throw new ArgumentException($"tensor name '{name}' is longer than {MaxTensorNameBytes} bytes, which llama.cpp cannot load");
        if (_names.Contains(name)) throw new ArgumentException($"tensor '{name}' was already added");
        if (!GgmlTypes.IsDefined((uint)type)) throw new ArgumentOutOfRangeException(nameof(type), type, "not a supported ggml type");
        if (shape.Length is 0 or > GgufFile.MaxDims)
            throw new ArgumentException($"tensor '{name}': GGUF tensors have 1 to {GgufFile.MaxDims} dimensions, got {shape.Length}");
        if (shape.Any(d => d < 0)) throw new ArgumentException($"tensor '{name}': negative dimension in [{string.Join(", ", shape)}]");
        var dims = shape.Reverse().Select(d => (long)d).ToArray();
        GgmlBlocks.CheckRowLength(type, dims[0]);
        long numel = dims.Aggregate(1L, (a, d) => checked(a * d));
        return (dims, type.RowSize(numel));
    }

    private static long Align(long x, uint alignment) => (x + alignment - 1) / alignment * alignment;

    private static void WritePadding(Stream s, uint alignment)
    {
        long pad = Align(s.Position, alignment) - s.Position;
        for (long i = 0; i < pad; i++) s.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValue v)
    {
        switch (v.Value)
        {
            case byte x: w.Write(x); break;
            case sbyte x: w.Write(x); break;
            case ushort x: w.Write(x); break;
            case short x: w.Write(x); break;
            case uint x: w.Write(x); break;
            case int x: w.Write(x); break;
            case float x: w.Write(x); break;
            case bool x: w.Write((byte)(x ? 1 : 0)); break;
            case string x: WriteString(w, x); break;
            case ulong x: w.Write(x); break;
            case long x: w.Write(x); break;
            case double x: w.Write(x); break;
            case Array items:
                w.Write((uint)v.ElementType);
                w.Write((ulong)items.Length);
                WriteArrayItems(w, v.ElementType, items);
                break;
            default: throw new InvalidOperationException($"cannot write a {v.Value.GetType().Name} GGUF value");
        }
    }

    private static void WriteArrayItems(BinaryWriter w, GgufValueType elem, Array items)
    {
        switch (items)
        {
            case string[] strings: foreach (var s in strings) WriteString(w, s); break;
            case GgufValue[] arrays: foreach (var a in arrays) { w.Write((uint)a.ElementType); w.Write((ulong)a.ArrayLength); WriteArrayItems(w, a.ElementType, (Array)a.Value); } break;
            case bool[] bools: foreach (var b in bools) w.Write((byte)(b ? 1 : 0)); break;
            case byte[] x: w.Write(x); break;
            case sbyte[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ushort[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case short[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case uint[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case int[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case float[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ulong[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case long[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            case double[] x: w.Write(MemoryMarshal.AsBytes(x.AsSpan())); break;
            default: throw new InvalidOperationException($"cannot write a GGUF array of {elem}");
        }
    }
}
