namespace Engine.Quant;

/// <summary>ggml tensor element types this engine reads and writes. The values are ggml's own type ids as stored
/// in GGUF tensor infos; ids of types we do not support are not listed (see <see cref="GgmlTypes.DescribeId"/>).</summary>
internal enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    BF16 = 30,
}

/// <summary>Block geometry and names of <see cref="GgmlType"/> (ggml's <c>ggml_type_traits</c>: blck_size, type_size).</summary>
internal static class GgmlTypes
{
    /// <summary>Elements per block of the legacy block types (QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0).</summary>
    public const int QK = 32;

    /// <summary>Elements per super-block of the k-quants (ggml's QK_K).</summary>
    public const int QK_K = 256;

    public static bool IsDefined(uint id) => id is 0 or 1 or 2 or 3 or 6 or 7 or 8 or 10 or 11 or 12 or 13 or 14 or 30;

    public static bool IsQuantized(this GgmlType t) => t is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 || t.IsKQuant();

    /// <summary>The k-quants: 256-value super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).</summary>
    public static bool IsKQuant(this GgmlType t) => t is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Elements per block: 256 for the k-quants, 32 for the legacy block types, 1 for F32/F16/BF16.</summary>
    public static int BlockSize(this GgmlType t) => t.IsKQuant() ? QK_K : t.IsQuantized() ? QK : Check(t, 1);

    /// <summary>Bytes per block (per element for F32/F16/BF16).</summary>
    public static int TypeSize(this GgmlType t) => t switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.Q4_0 => 18, // fp16 d + 16 bytes of nibbles
        GgmlType.Q4_1 => 20, // fp16 d, fp16 m + 16
        GgmlType.Q5_0 => 22, // fp16 d + 4 bytes qh + 16
        GgmlType.Q5_1 => 24, // fp16 d, fp16 m + 4 + 16
        GgmlType.Q8_0 => 34, // fp16 d + 32 int8
        GgmlType.Q2_K => BlockQ2_K.Bytes, // 16 bytes of 4-bit scales/mins, 64 bytes of 2-bit values, fp16 d, fp16 dmin
        GgmlType.Q3_K => BlockQ3_K.Bytes, // 32 bytes of high bits, 64 bytes of 2-bit values, 12 bytes of 6-bit scales, fp16 d
        GgmlType.Q4_K => BlockQ4_K.Bytes(4), // fp16 d, fp16 dmin, 12 bytes of 6-bit scales/mins, 128 nibble bytes
        GgmlType.Q5_K => BlockQ4_K.Bytes(5), // as q4_K + 32 bytes of high bits
        GgmlType.Q6_K => BlockQ6_K.Bytes, // 128 low nibbles, 64 bytes of high 2 bits, int8 scales[16], fp16 d
        _ => throw Unknown(t),
    };

    /// <summary>Bytes for <paramref name="elements"/> values; throws an <see cref="EngineException"/> when the count is
    /// not a whole number of blocks.</summary>
    public static long RowSize(this GgmlType t, long elements)
    {
        int bs = t.BlockSize();
        if (elements < 0 || elements % bs != 0)
            throw new EngineException($"{t.Name()} stores blocks of {bs} values; a row of {elements} values is not a multiple of {bs}");
        return checked(elements / bs * t.TypeSize());
    }

    /// <summary>ggml's name (ggml_type_name: "q4_0", "f16", "bf16", "q6_K"); <see cref="TryParse"/> ignores case.</summary>
    public static string Name(this GgmlType t) => t switch
    {
        GgmlType.F32 => "f32",
        GgmlType.F16 => "f16",
        GgmlType.BF16 => "bf16",
        GgmlType.Q4_0 => "q4_0",
        GgmlType.Q4_1 => "q4_1",
        GgmlType.Q5_0 => "q5_0",
        GgmlType.Q5_1 => "q5_1",
        GgmlType.Q8_0 => "q8_0",
        GgmlType.Q2_K => "q2_K",
        GgmlType.Q3_K => "q3_K",
        GgmlType.Q4_K => "q4_K",
        GgmlType.Q5_K => "q5_K",
        GgmlType.Q6_K => "q6_K",
        _ => throw Unknown(t),
    };

    public static bool TryParse(string name, out GgmlType type)
    {
        foreach (var t in Enum.GetValues<GgmlType>())
        {
            if (string.Equals(t.Name(), name, StringComparison.OrdinalIgnoreCase)) { type = t; return true; }
        }
        type = default;
        return false;
    }

    /// <summary>A readable name for any ggml type id, including ones we do not support, for error messages.</summary>
    public static string DescribeId(uint id) => IsDefined(id) ? ((GgmlType)id).Name() : id switch
    {
        9 => "q8_1",
        15 => "q8_K",
        16 => "iq2_xxs",
        17 => "iq2_xs",
        18 => "iq3_xxs",
        19 => "iq1_s",
        20 => "iq4_nl",
        21 => "iq3_s",
        22 => "iq2_s",
        23 => "iq4_xs",
        24 => "i8",
        25 => "i16",
        26 => "i32",
        27 => "i64",
        28 => "f64",
        29 => "iq1_m",
        34 => "tq1_0",
        35 => "tq2_0",
        39 => "mxfp4",
        _ => $"unknown type id {id}",
    };

    private static int Check(GgmlType t, int value) => IsDefined((uint)t) ? value : throw Unknown(t);

    private static ArgumentOutOfRangeException Unknown(GgmlType t) => new(nameof(t), t, "not a supported ggml type");
}
