namespace Engine.Formats;

/// <summary>One GGUF metadata value. <see cref="Value"/> holds the CLR value of the type (byte, sbyte, ushort, short,
/// uint, int, float, bool, string, ulong, long, double); for arrays it holds a typed array of the element type
/// (string[] for arrays of strings, GgufValue[] for arrays of arrays) and <see cref="ElementType"/> says which.</summary>
internal sealed class GgufValue
{
    private GgufValue(GgufValueType type, object value, GgufValueType elementType = default)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }
    /// <summary>The element type of an array (meaningless for other types).</summary>
    public GgufValueType ElementType { get; }
    public object Value { get; }

    public bool IsArray => Type == GgufValueType.Array;
    public int ArrayLength => IsArray ? ((Array)Value).Length : throw new InvalidOperationException($"a {TypeName} value is not an array");

    /// <summary>"uint32", "string", "array of string", ... as used in error messages.</summary>
    public string TypeName => IsArray ? $"array of {GgufValueTypes.Name(ElementType)}" : GgufValueTypes.Name(Type);

    public static GgufValue U8(byte v) => new(GgufValueType.UInt8, v);
    public static GgufValue I8(sbyte v) => new(GgufValueType.Int8, v);
    public static GgufValue U16(ushort v) => new(GgufValueType.UInt16, v);
    public static GgufValue I16(short v) => new(GgufValueType.Int16, v);
    public static GgufValue U32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue I32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue F32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));
    public static GgufValue U64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue I64(long v) => new(GgufValueType.Int64, v);
    public static GgufValue F64(double v) => new(GgufValueType.Float64, v);

    /// <summary>An array whose element type follows from T (byte → uint8, string → string, GgufValue → array, ...).</summary>
    public static GgufValue Array<T>(T[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var elementType = GgufValueTypes.FromClr(typeof(T));
        if (items is string[] strings && strings.Any(s => s is null)) throw new ArgumentException("array of strings contains null");
        if (items is GgufValue[] values && values.Any(v => v is null || !v.IsArray))
            throw new ArgumentException("an array of arrays may hold only array values");
        return new GgufValue(GgufValueType.Array, items, elementType);
    }

    /// <summary>The value as T when its type matches exactly (T[] for arrays), else null/false.</summary>
    public bool TryAs<T>(out T value)
    {
        if (Value is T t)
        {
            value = t;
            return true;
        }
        value = default!;
        return false;
    }

    /// <summary>Any integer type widened to long (uint64 values above long.MaxValue fail).</summary>
    public bool TryAsInteger(out long value)
    {
        switch (Value)
        {
            case byte v: value = v; return true;
            case sbyte v: value = v; return true;
            case ushort v: value = v; return true;
            case short v: value = v; return true;
            case uint v: value = v; return true;
            case int v: value = v; return true;
            case long v: value = v; return true;
            case ulong v when v <= long.MaxValue: value = (long)v; return true;
            default: value = 0; return false;
        }
    }

    public override string ToString() => IsArray ? $"{TypeName}[{ArrayLength}]" : $"{TypeName} {Value}";
}
