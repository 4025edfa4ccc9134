using Engine.Tensors;

namespace Engine.Formats;

/// <summary>What a weight file says about one tensor: its name as stored, shape (outermost first, PyTorch order),
/// and element type on disk. <see cref="FileType"/> is the on-disk type name when it is not a plain dtype
/// (a GGUF block type such as "q4_0"), otherwise null.</summary>
internal sealed record TensorEntry(string Name, int[] Shape, DType DType, string? FileType = null)
{
    public long NumElements
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }
}

/// <summary>A set of named tensors read from a file (or several, for sharded checkpoints). Readers check every offset
/// and length against the file before handing out bytes, and name the file and tensor in every error.</summary>
internal interface ITensorSource : IDisposable
{
    /// <summary>The file (or folder) this source was read from, for error messages.</summary>
    string Path { get; }
    IReadOnlyCollection<string> Names { get; }
    bool Contains(string name);
    TensorEntry Info(string name);
    /// <summary>The tensor's values converted to fp32 (dequantized for block formats). dst.Length must equal the element count.</summary>
    void ReadFloats(string name, Span<float> dst);
    /// <summary>The tensor's bytes exactly as stored (little-endian elements or packed blocks).</summary>
    ReadOnlySpan<byte> ReadBytes(string name);
    /// <summary>True when <see cref="ReadBytes"/> returns views into a memory map that stays valid until this source
    /// is disposed (so a reader may keep them instead of copying).</summary>
    bool BytesStayMapped => false;
}
