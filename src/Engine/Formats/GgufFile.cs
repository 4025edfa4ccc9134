using Engine.Quant;
using Engine.Tensors;

namespace Engine.Formats;

/// <summary>A memory-mapped GGUF file (versions 2 and 3, little-endian): metadata in file order, tensor infos, and
/// the aligned data section. Every count, string, array and tensor range is checked against the file when it is
/// opened. Tensor names stay as stored (blk.0.attn_q.weight); shapes are given in PyTorch order.</summary>
internal sealed partial class GgufFile : ITensorSource
{
    public const uint Magic = 0x46554747; // "GGUF" read as little-endian uint32
    public const uint DefaultAlignment = 32;
    public const int MaxDims = 4;

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufValue> _metadata;
    private readonly Dictionary<string, GgufTensorInfo> _tensors;
    private readonly List<string> _names;

    private GgufFile(MappedFile file, uint version, uint alignment, long dataOffset,
        List<KeyValuePair<string, GgufValue>> metadata, List<GgufTensorInfo> tensors)
    {
        _file = file;
        Version = version;
        Alignment = alignment;
        DataOffset = dataOffset;
        Metadata = metadata;
        _metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        Tensors = tensors;
        _tensors = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _names = tensors.Select(t => t.Name).ToList();
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public uint Alignment { get; }
    /// <summary>File offset where the tensor data section starts (header end rounded up to the alignment).</summary>
    public long DataOffset { get; }
    /// <summary>Key/value pairs in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }
    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public IReadOnlyCollection<string> Names => _names;

    public static GgufFile Open(string path) => MappedFile.OpenWith(path, Parse);

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public GgufTensorInfo TensorInfo(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new FileFormatException(Path, $"tensor '{name}'", "is not in this file");

    /// <summary>Shape in PyTorch order; F32/F16/BF16 map to their DType, block types to U8 with FileType "q4_0" etc.</summary>
    public TensorEntry Info(string name)
    {
        var t = TensorInfo(name);
        return t.Type switch
        {
            GgmlType.F32 => new TensorEntry(name, t.Shape, DType.F32),
            GgmlType.F16 => new TensorEntry(name, t.Shape, DType.F16),
            GgmlType.BF16 => new TensorEntry(name, t.Shape, DType.BF16),
            _ => new TensorEntry(name, t.Shape, DType.U8, t.Type.Name()),
        };
    }

    /// <summary>Tensor bytes are views into the file's memory map, valid until this file is disposed.</summary>
    public bool BytesStayMapped => true;

    /// <summary>The stored bytes (packed blocks for quantized types).</summary>
    public ReadOnlySpan<byte> ReadBytes(string name)
    {
        var t = TensorInfo(name);
        return _file.Span(DataOffset + t.Offset, t.ByteSize, $"tensor '{name}'");
    }

    /// <summary>The values as fp32, dequantized with ggml's reference dequantizers for block types.</summary>
    public void ReadFloats(string name, Span<float> dst)
    {
        var t = TensorInfo(name);
        if (dst.Length != t.NumElements)
            throw new ArgumentException($"{Path}: tensor '{name}' has {t.NumElements} elements; destination has {dst.Length}");
        long start = DataOffset + t.Offset;
        _file.Check(start, t.ByteSize, $"tensor '{name}'");
        int bs = t.Type.BlockSize(), ts = t.Type.TypeSize();
        // ChunkElements is a multiple of every block size, so pieces split on block boundaries.
        for (int first = 0; first < dst.Length; first += MappedFile.ChunkElements)
        {
            int n = Math.Min(MappedFile.ChunkElements, dst.Length - first);
            var bytes = _file.CheckedSpan(start + (long)first / bs * ts, n / bs * ts);
            GgmlBlocks.Dequantize(t.Type, bytes, dst.Slice(first, n));
        }
    }

    public void Dispose() => _file.Dispose();

    private static GgufFile Parse(MappedFile file)
    {
        string path = file.Path;
        var r = new MappedReader(file);
        if (file.Length < 4)
            throw new FileFormatException(path, "magic", $"the file is {file.Length} bytes; a GGUF file starts with the 4-byte magic 'GGUF'");
        var magicBytes = r.Take(4, "magic");
        if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magicBytes) != Magic)
            throw new FileFormatException(path, "magic", $"expected 'GGUF' (47 47 55 46), found {Convert.ToHexString(magicBytes)}");
        uint version = r.U32("version");
        if (version is not (2 or 3))
        {
            string why = version == 1 ? "GGUF v1 (32-bit counts) is not supported"
                : (version & 0xFFFF) == 0 ? "looks byte-swapped: big-endian GGUF files are not supported"
                : "unknown version";
            throw new FileFormatException(path, "version", $"is {version}; {why} (supported: 2, 3)");
        }
        ulong tensorCount = r.U64("tensor count");
        ulong kvCount = r.U64("metadata count");
        // Smallest possible items: a KV is an 8-byte key length + 4-byte type + 1 byte; a tensor info is an 8-byte
        // name length + 4-byte n_dims + 4-byte type + 8-byte offset.
        r.CheckCount(kvCount, 13, "metadata count");
        r.CheckCount(tensorCount, 24, "tensor count");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var seenKeys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String($"metadata #{i} key");
            if (!seenKeys.Add(key)) throw new FileFormatException(path, $"metadata '{key}'", "appears twice");
            uint type = r.U32($"metadata '{key}' type");
            var value = ReadValue(r, type, $"metadata '{key}'", depth: 0);
            metadata.Add(new(key, value));
        }

        uint alignment = DefaultAlignment;
        var alignEntry = metadata.FirstOrDefault(kv => kv.Key == "general.alignment");
        if (alignEntry.Value is not null)
        {
            if (!alignEntry.Value.TryAs(out uint a))
                throw new FileFormatException(path, "metadata 'general.alignment'", $"has type {alignEntry.Value.TypeName}; expected uint32");
            if (a == 0 || (a & (a - 1)) != 0)
                throw new FileFormatException(path, "metadata 'general.alignment'", $"is {a}; expected a power of two");
            alignment = a;
        }

        var infos = new List<GgufTensorInfo>((int)tensorCount);
        var seenNames = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"tensor info #{i} name");
            string what = $"tensor '{name}'";
            if (!seenNames.Add(name)) throw new FileFormatException(path, what, "appears twice");
            uint nDims = r.U32($"{what} n_dims");
            if (nDims > MaxDims) throw new FileFormatException(path, what, $"has {nDims} dimensions; at most {MaxDims} are allowed");
            var dims = new long[nDims];
            long numel = 1;
            for (int d = 0; d < nDims; d++)
            {
                ulong v = r.U64($"{what} dims[{d}]");
                if (v > int.MaxValue) throw new FileFormatException(path, what, $"dims[{d}] = {v} is too large");
                // Bounded so that the byte size (at most 4 bytes per element) cannot overflow either.
                if (v != 0 && numel > long.MaxValue / 8 / (long)v)
                    throw new FileFormatException(path, what, $"dims[{d}] = {v} makes the tensor too large");
                dims[d] = (long)v;
                numel *= (long)v;
            }
            uint typeId = r.U32($"{what} type");
            if (!GgmlTypes.IsDefined(typeId))
                throw new FileFormatException(path, what, $"ggml type {typeId} ({GgmlTypes.DescribeId(typeId)}) is not supported "
                    + $"(supported: {string.Join(", ", Enum.GetValues<GgmlType>().Select(t => t.Name()))})");
            var type = (GgmlType)typeId;
            long rowLength = nDims == 0 ? 1 : dims[0];
            if (rowLength % type.BlockSize() != 0)
                throw new FileFormatException(path, what, $"row length dims[0] = {rowLength} is not a multiple of the {type.Name()} block size {type.BlockSize()}");
            ulong offset = r.U64($"{what} offset");
            if (offset % alignment != 0)
                throw new FileFormatException(path, what, $"data offset {offset} is not a multiple of the alignment {alignment}");
            if (offset > long.MaxValue) throw new FileFormatException(path, what, $"data offset {offset} is out of range");
            infos.Add(new GgufTensorInfo(name, dims, type, (long)offset, type.RowSize(numel)));
        }

        long headerEnd = r.Position;
        long dataOffset = (headerEnd + alignment - 1) / alignment * alignment;
        long dataLength = Math.Max(0, file.Length - dataOffset);
        foreach (var t in infos)
        {
            if (t.ByteSize > dataLength || t.Offset > dataLength - t.ByteSize)
                throw new FileFormatException(path, $"tensor '{t.Name}'",
                    $"data [{t.Offset}, {t.Offset + t.ByteSize}) lies outside the {dataLength}-byte data section starting at file offset {dataOffset}");
        }
        GgufTensorInfo? prev = null;
        foreach (var t in infos.Where(t => t.ByteSize > 0).OrderBy(t => t.Offset))
        {
            if (prev is not null && t.Offset < prev.Offset + prev.ByteSize)
                throw new FileFormatException(path, $"tensor '{t.Name}'",
                    $"data [{t.Offset}, {t.Offset + t.ByteSize}) overlaps tensor '{prev.Name}' [{prev.Offset}, {prev.Offset + prev.ByteSize})");
            prev = t;
        }
        return new GgufFile(file, version, alignment, dataOffset, metadata, infos);
    }

    private static GgufValue ReadValue(MappedReader r, uint typeId, string what, int depth)
    {
        if (!GgufValueTypes.IsDefined(typeId))
            throw new FileFormatException(r.Path, what, $"unknown value type {typeId} at offset {r.Position - 4} (known: 0..12)");
        var type = (GgufValueType)typeId;
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.U8(r.U8(what));
            case GgufValueType.Int8: return GgufValue.I8((sbyte)r.U8(what));
            case GgufValueType.UInt16: return GgufValue.U16(r.U16(what));
            case GgufValueType.Int16: return GgufValue.I16((short)r.U16(what));
            case GgufValueType.UInt32: return GgufValue.U32(r.U32(what));
            case GgufValueType.Int32: return GgufValue.I32((int)r.U32(what));
            case GgufValueType.Float32: return GgufValue.F32(BitConverter.UInt32BitsToSingle(r.U32(what)));
            case GgufValueType.Bool: return GgufValue.Bool(r.U8(what) != 0);
            case GgufValueType.String: return GgufValue.String(r.String(what));
            case GgufValueType.UInt64: return GgufValue.U64(r.U64(what));
            case GgufValueType.Int64: return GgufValue.I64((long)r.U64(what));
            case GgufValueType.Float64: return GgufValue.F64(BitConverter.UInt64BitsToDouble(r.U64(what)));
            default: return ReadArray(r, what, depth);
        }
    }

    private static GgufValue ReadArray(MappedReader r, string what, int depth)
    {
        // Nesting is legal in the spec but unused in practice; a cap keeps a hostile file from recursing deeply.
        if (depth >= 8) throw new FileFormatException(r.Path, what, "arrays are nested more than 8 deep");
        uint elemId = r.U32($"{what} array element type");
        if (!GgufValueTypes.IsDefined(elemId))
            throw new FileFormatException(r.Path, what, $"unknown array element type {elemId} at offset {r.Position - 4} (known: 0..12)");
        var elem = (GgufValueType)elemId;
        ulong count = r.U64($"{what} array length");
        r.CheckCount(count, GgufValueTypes.MinSize(elem), $"{what} array length");
        if (count > int.MaxValue) throw new FileFormatException(r.Path, what, $"array length {count} is too large");
        int n = (int)count;
        switch (elem)
        {
            case GgufValueType.String:
            {
                var items = new string[n];
                for (int i = 0; i < n; i++) items[i] = r.String($"{what}[{i}]");
                return GgufValue.Array(items);
            }
            case GgufValueType.Array:
            {
                var items = new GgufValue[n];
                for (int i = 0; i < n; i++) items[i] = ReadArray(r, $"{what}[{i}]", depth + 1);
                return GgufValue.Array(items);
            }
            default:
            {
                var raw = r.Take((long)n * GgufValueTypes.FixedSize(elem), what);
                return elem switch
                {
                    GgufValueType.UInt8 => GgufValue.Array(raw.ToArray()),
                    GgufValueType.Int8 => GgufValue.Array(Cast<sbyte>(raw)),
                    GgufValueType.UInt16 => GgufValue.Array(Cast<ushort>(raw)),
                    GgufValueType.Int16 => GgufValue.Array(Cast<short>(raw)),
                    GgufValueType.UInt32 => GgufValue.Array(Cast<uint>(raw)),
                    GgufValueType.Int32 => GgufValue.Array(Cast<int>(raw)),
                    GgufValueType.Float32 => GgufValue.Array(Cast<float>(raw)),
                    GgufValueType.Bool => GgufValue.Array(raw.ToArray().Select(b => b != 0).ToArray()),
                    GgufValueType.UInt64 => GgufValue.Array(Cast<ulong>(raw)),
                    GgufValueType.Int64 => GgufValue.Array(Cast<long>(raw)),
                    _ => GgufValue.Array(Cast<double>(raw)),
                };
            }
        }
    }

    private static T[] Cast<T>(ReadOnlySpan<byte> raw) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(raw).ToArray();
}
