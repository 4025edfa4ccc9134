namespace Engine.Formats;

/// <summary>Typed metadata lookups. A missing key or a value of another type is a <see cref="FileFormatException"/>
/// naming the file, the key, the type found and the type expected.</summary>
internal sealed partial class GgufFile
{
    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    public bool TryGet(string key, out GgufValue value) => _metadata.TryGetValue(key, out value!);

    public GgufValue Get(string key) =>
        _metadata.TryGetValue(key, out var v) ? v : throw new FileFormatException(Path, $"metadata '{key}'", "is missing");

    public string GetString(string key) => Typed<string>(key, "string");
    public uint GetU32(string key) => Typed<uint>(key, "uint32");
    public int GetI32(string key) => Typed<int>(key, "int32");
    public ulong GetU64(string key) => Typed<ulong>(key, "uint64");
    public float GetF32(string key) => Typed<float>(key, "float32");
    public bool GetBool(string key) => Typed<bool>(key, "bool");

    /// <summary>Any integer type, widened; for counts that writers store as uint32 or uint64 interchangeably.</summary>
    public long GetInteger(string key)
    {
        var v = Get(key);
        return v.TryAsInteger(out long x) ? x : throw WrongType(key, v, "an integer");
    }

    /// <summary>An array whose element type is exactly T (string for arrays of strings, GgufValue for nested arrays).</summary>
    public T[] GetArray<T>(string key)
    {
        var v = Get(key);
        if (v.IsArray && v.Value is T[] items) return items;
        string expected = $"array of {GgufValueTypes.Name(GgufValueTypes.FromClr(typeof(T)))}";
        throw WrongType(key, v, expected);
    }

    /// <summary>Like <see cref="TryGet"/> but also false when the value has another type.</summary>
    public bool TryGet<T>(string key, out T value)
    {
        if (_metadata.TryGetValue(key, out var v) && v.TryAs(out value)) return true;
        value = default!;
        return false;
    }

    private T Typed<T>(string key, string expected)
    {
        var v = Get(key);
        return v.TryAs(out T value) && !v.IsArray ? value : throw WrongType(key, v, expected);
    }

    private FileFormatException WrongType(string key, GgufValue v, string expected) =>
        new(Path, $"metadata '{key}'", $"has type {v.TypeName}; expected {expected}");
}
