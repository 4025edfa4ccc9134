using System.Buffers.Binary;
using System.Text.Json;

namespace Engine.Formats;

/// <summary>A memory-mapped .safetensors file: u64 LE header length N, N bytes of JSON
/// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {string: string}}), then the
/// data section that the offsets index into. Every entry is checked when the file is opened.</summary>
internal sealed class SafeTensorsFile : ITensorSource
{
    /// <summary>The same cap as the reference implementation, so a corrupt length cannot make us read 2^63 bytes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MappedFile _file;
    private readonly Dictionary<string, Slot> _slots;
    private readonly List<string> _names;

    private sealed record Slot(TensorEntry Entry, SafeTensorsDType DType, long Begin, long Length);

    private SafeTensorsFile(MappedFile file, long dataOffset, Dictionary<string, Slot> slots, List<string> names, Dictionary<string, string> metadata)
    {
        _file = file;
        DataOffset = dataOffset;
        _slots = slots;
        _names = names;
        Metadata = metadata;
    }

    public string Path => _file.Path;
    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyCollection<string> Names => _names;
    /// <summary>The "__metadata__" map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>File offset of the data section (8 + header length).</summary>
    public long DataOffset { get; }

    public static SafeTensorsFile Open(string path) => MappedFile.OpenWith(path, Parse);

    public bool Contains(string name) => _slots.ContainsKey(name);

    public TensorEntry Info(string name) => Get(name).Entry;

    /// <summary>The safetensors dtype as stored (also for types that <see cref="TensorEntry.DType"/> shows as U8).</summary>
    public SafeTensorsDType StoredDType(string name) => Get(name).DType;

    /// <summary>Where the tensor's bytes lie in the file: absolute offset and length.</summary>
    public (long Offset, long Length) DataRange(string name)
    {
        var s = Get(name);
        return (s.Begin, s.Length);
    }

    public ReadOnlySpan<byte> ReadBytes(string name)
    {
        var s = Get(name);
        return _file.Span(s.Begin, s.Length, $"tensor '{name}'");
    }

    public void ReadFloats(string name, Span<float> dst)
    {
        var s = Get(name);
        if (dst.Length != s.Entry.NumElements)
            throw new ArgumentException($"{Path}: tensor '{name}' has {s.Entry.NumElements} elements; destination has {dst.Length}");
        if (!s.DType.ConvertsToFloat)
            throw new FileFormatException(Path, $"tensor '{name}'", $"dtype {s.DType.Name} has no fp32 conversion here; read its bytes instead");
        int size = s.DType.Size;
        _file.Check(s.Begin, s.Length, $"tensor '{name}'");
        for (int start = 0; start < dst.Length; start += MappedFile.ChunkElements)
        {
            int n = Math.Min(MappedFile.ChunkElements, dst.Length - start);
            RawValues.ToFloats(s.DType, _file.CheckedSpan(s.Begin + (long)start * size, n * size), dst.Slice(start, n));
        }
    }

    public void Dispose() => _file.Dispose();

    private Slot Get(string name) =>
        _slots.TryGetValue(name, out var s) ? s : throw new FileFormatException(Path, $"tensor '{name}'", "is not in this file");

    private static SafeTensorsFile Parse(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new FileFormatException(path, "header length", $"the file is {file.Length} bytes; a safetensors file starts with an 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8, "header length"));
        if (n > (ulong)(file.Length - 8))
            throw new FileFormatException(path, "header length", $"says {n} bytes of JSON header but only {file.Length - 8} bytes follow");
        if (n > MaxHeaderBytes)
            throw new FileFormatException(path, "header length", $"{n} bytes exceeds the {MaxHeaderBytes}-byte limit");
        if (n < 2)
            throw new FileFormatException(path, "header", $"is {n} bytes; expected a JSON object");
        long dataOffset = 8 + (long)n;
        long dataLength = file.Length - dataOffset;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(file.Span(8, (long)n, "header").ToArray());
            if (JsonText.FindInvalidString(doc.RootElement) is string bad) { doc.Dispose(); throw new FileFormatException(path, "header JSON", bad); }
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, "header JSON", $"is not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new FileFormatException(path, "header JSON", $"is a {doc.RootElement.ValueKind}; expected an object");
            var slots = new Dictionary<string, Slot>(StringComparer.Ordinal);
            var names = new List<string>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (sawMetadata) throw new FileFormatException(path, "__metadata__", "appears twice");
                    sawMetadata = true;
                    ReadMetadata(path, prop.Value, metadata);
                    continue;
                }
                if (slots.ContainsKey(prop.Name))
                    throw new FileFormatException(path, $"tensor '{prop.Name}'", "appears twice in the header");
                var slot = ReadSlot(path, prop.Name, prop.Value, dataOffset, dataLength);
                slots.Add(prop.Name, slot);
                names.Add(prop.Name);
            }
            CheckNoOverlap(path, slots.Values, dataOffset);
            return new SafeTensorsFile(file, dataOffset, slots, names, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new FileFormatException(path, "__metadata__", $"is a {value.ValueKind}; expected an object of strings");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new FileFormatException(path, $"__metadata__ key '{kv.Name}'", $"is a {kv.Value.ValueKind}; expected a string");
            metadata[kv.Name] = kv.Value.GetString()!;
        }
    }

    private static Slot ReadSlot(string path, string name, JsonElement e, long dataOffset, long dataLength)
    {
        string what = $"tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new FileFormatException(path, what, $"header entry is a {e.ValueKind}; expected an object with dtype, shape, data_offsets");

        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new FileFormatException(path, what, "has no string field 'dtype'");
        string dtypeName = dtypeEl.GetString()!;
        if (!SafeTensorsDType.TryParse(dtypeName, out var dtype))
            throw new FileFormatException(path, what, $"unknown dtype '{dtypeName}' (known: {string.Join(", ", SafeTensorsDType.KnownNames)})");

        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new FileFormatException(path, what, "has no array field 'shape'");
        var shape = new int[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw new FileFormatException(path, what, $"shape[{i}] = {d.GetRawText()} is not a non-negative 32-bit integer");
            shape[i++] = v;
        }

        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new FileFormatException(path, what, "has no field 'data_offsets' of the form [begin, end]");
        long begin = ReadOffset(path, what, offEl[0]), end = ReadOffset(path, what, offEl[1]);
        if (begin > end || end > dataLength)
            throw new FileFormatException(path, what, $"data_offsets [{begin}, {end}] do not lie within the {dataLength}-byte data section");

        long expected;
        try
        {
            expected = dtype.Size;
            foreach (int d in shape) expected = checked(expected * d);
        }
        catch (OverflowException)
        {
            throw new FileFormatException(path, what, $"shape [{string.Join(", ", shape)}] is too large");
        }
        if (end - begin != expected)
            throw new FileFormatException(path, what, $"data_offsets [{begin}, {end}] span {end - begin} bytes; shape [{string.Join(", ", shape)}] of {dtype.Name} needs {expected}");

        var entry = new TensorEntry(name, shape, dtype.EntryDType, dtype.EntryFileType);
        return new Slot(entry, dtype, dataOffset + begin, end - begin);
    }

    private static long ReadOffset(string path, string what, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new FileFormatException(path, what, $"data_offsets entry {e.GetRawText()} is not a non-negative integer");
        return v;
    }

    private static void CheckNoOverlap(string path, IEnumerable<Slot> slots, long dataOffset)
    {
        Slot? prev = null;
        foreach (var s in slots.Where(s => s.Length > 0).OrderBy(s => s.Begin))
        {
            if (prev is not null && s.Begin < prev.Begin + prev.Length)
                throw new FileFormatException(path, $"tensor '{s.Entry.Name}'",
                    $"data_offsets [{s.Begin - dataOffset}, {s.Begin - dataOffset + s.Length}] overlap tensor '{prev.Entry.Name}' [{prev.Begin - dataOffset}, {prev.Begin - dataOffset + prev.Length}]");
            prev = s;
        }
    }
}
