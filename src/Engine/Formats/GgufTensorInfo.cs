using Engine.Quant;

namespace Engine.Formats;

/// <summary>One GGUF tensor info. <see cref="Dims"/> is in ggml order (Dims[0] = ne[0], the contiguous axis);
/// <see cref="Shape"/> is the same reversed (PyTorch order, outermost first). <see cref="Offset"/> is relative to the
/// start of the data section, <see cref="ByteSize"/> is the stored size without padding.</summary>
internal sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset, long ByteSize)
{
    public int[] Shape => Dims.Reverse().Select(d => (int)d).ToArray();

    public long NumElements
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n *= d;
            return n;
        }
    }
}
