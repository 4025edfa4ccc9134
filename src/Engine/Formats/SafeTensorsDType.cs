using Engine.Tensors;

namespace Engine.Formats;

/// <summary>A safetensors element type: its header spelling ("F32", "BF16", "I64"...), size, and the engine
/// <see cref="DType"/> it maps to. Types the engine has no DType for are exposed as U8 bytes with
/// <see cref="TensorEntry.FileType"/> naming the stored type in lower case ("i64").</summary>
internal sealed record SafeTensorsDType(string Name, int Size, DType? Native)
{
    public static readonly SafeTensorsDType F32 = new("F32", 4, DType.F32);
    public static readonly SafeTensorsDType F16 = new("F16", 2, DType.F16);
    public static readonly SafeTensorsDType BF16 = new("BF16", 2, DType.BF16);
    public static readonly SafeTensorsDType I32 = new("I32", 4, DType.I32);
    public static readonly SafeTensorsDType U8 = new("U8", 1, DType.U8);
    public static readonly SafeTensorsDType I8 = new("I8", 1, null);
    public static readonly SafeTensorsDType I16 = new("I16", 2, null);
    public static readonly SafeTensorsDType U16 = new("U16", 2, null);
    public static readonly SafeTensorsDType U32 = new("U32", 4, null);
    public static readonly SafeTensorsDType I64 = new("I64", 8, null);
    public static readonly SafeTensorsDType U64 = new("U64", 8, null);
    public static readonly SafeTensorsDType F64 = new("F64", 8, null);
    public static readonly SafeTensorsDType Bool = new("BOOL", 1, null);
    public static readonly SafeTensorsDType F8E4M3 = new("F8_E4M3", 1, null);
    public static readonly SafeTensorsDType F8E5M2 = new("F8_E5M2", 1, null);

    private static readonly SafeTensorsDType[] All = [F32, F16, BF16, I32, U8, I8, I16, U16, U32, I64, U64, F64, Bool, F8E4M3, F8E5M2];

    public static bool TryParse(string name, out SafeTensorsDType dtype)
    {
        foreach (var t in All)
        {
            if (t.Name == name) { dtype = t; return true; }
        }
        dtype = null!;
        return false;
    }

    public static SafeTensorsDType From(DType t) => t switch
    {
        DType.F32 => F32,
        DType.F16 => F16,
        DType.BF16 => BF16,
        DType.I32 => I32,
        DType.U8 => U8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no safetensors dtype"),
    };

    public static IEnumerable<string> KnownNames => All.Select(t => t.Name);

    /// <summary>Whether <see cref="RawValues.ToFloats"/> can convert this type (all but the fp8 types).</summary>
    public bool ConvertsToFloat => this != F8E4M3 && this != F8E5M2;

    public DType EntryDType => Native ?? DType.U8;
    public string? EntryFileType => Native is null ? Name.ToLowerInvariant() : null;
}
