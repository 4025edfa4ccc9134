namespace Engine.Tensors;

/// <summary>Element types a tensor can hold. Packed quantized weights (NF4, GGUF blocks) are stored as U8 tensors
/// with their own metadata in <c>Engine.Quant</c>.</summary>
internal enum DType : byte
{
    F32,
    BF16,
    F16,
    I32,
    U8,
}

internal static class DTypeExtensions
{
    public static int SizeInBytes(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    public static bool IsFloat(this DType t) => t is DType.F32 or DType.BF16 or DType.F16;

    /// <summary>Lower-case name as used on the command line and in safetensors headers' spirit (f32, bf16, ...).</summary>
    public static string Name(this DType t) => t switch
    {
        DType.F32 => "f32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        DType.I32 => "i32",
        DType.U8 => "u8",
        _ => t.ToString(),
    };
}
