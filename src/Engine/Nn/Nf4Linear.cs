using System.Runtime.InteropServices;
using Engine.Autograd;
using Engine.Backends;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A frozen NF4 (bitsandbytes, optionally double-quantized) weight [out, in]: QLoRA's base layer. Only the
/// quantized data lives on the backend; each product dequantizes what it needs (see <see cref="IBackend.Nf4MatMul"/>).
/// Owns its device weight.</summary>
internal sealed class Nf4Linear : ILinear, IDisposable
{
    public Nf4Linear(Nf4DeviceWeight weight, string originalDType = "bfloat16")
    {
        Weight = weight;
        OriginalDType = originalDType;
    }

    public Nf4DeviceWeight Weight { get; }
    /// <summary>bitsandbytes' quant-state "dtype": the torch dtype of the weight before quantization.</summary>
    public string OriginalDType { get; }
    public int InFeatures => Weight.Cols;
    public int OutFeatures => Weight.Rows;
    public long ByteSize => Weight.ByteSize;
    public bool IsDoubleQuantized => Weight.IsDoubleQuantized;

    public Tensor Forward(Tensor x, ForwardContext ctx) => Ops.Nf4Linear(x, Weight);

    /// <summary>Copies a host NF4 weight to the backend.</summary>
    public static Nf4Linear Upload(IBackend be, Nf4Weight w) => TensorScope.Unscoped(() =>
    {
        var packed = be.FromBytes(w.Packed, new Shape(w.Packed.Length), DType.U8);
        if (w.Nested is not { } n)
        {
            var absmax = be.FromFloats(w.Absmax!, new Shape(w.Absmax!.Length), DType.F32);
            return new Nf4Linear(new Nf4DeviceWeight(w.Rows, w.Cols, w.BlockSize, packed, absmax), w.OriginalDType);
        }
        var codes = be.FromBytes(n.Codes, new Shape(n.Codes.Length), DType.U8);
        var nested = be.FromFloats(n.Absmax, new Shape(n.Absmax.Length), DType.F32);
        var map = be.FromFloats(n.CodeMap, new Shape(n.CodeMap.Length), DType.F32);
        return new Nf4Linear(new Nf4DeviceWeight(w.Rows, w.Cols, w.BlockSize, packed, codes, nested, map, n.Offset, n.BlockSize),
            w.OriginalDType);
    });

    /// <summary>Quantizes a dense weight [out, in] as bitsandbytes does when transformers loads a model with
    /// torch_dtype=bfloat16 and load_in_4bit: the weight is first rounded to bf16 (a no-op for a bf16 tensor), so the
    /// codes are the same whether the dense copy lived in fp32 on the CPU or in bf16 on a GPU.</summary>
    public static Nf4Linear Quantize(Tensor dense, bool doubleQuant, int blockSize = Nf4Quantizer.DefaultBlockSize)
    {
        if (dense.Shape.Rank != 2) throw new ArgumentException($"a linear weight is [out, in], got {dense.Shape}");
        var be = Backend.Of(dense);
        int rows = dense.Shape[0], cols = dense.Shape[1];
        var bits = new ushort[dense.NumElements];
        if (dense.DType == DType.BF16) be.ToBytes(dense, MemoryMarshal.AsBytes(bits.AsSpan()));
        else
        {
            var f = new float[dense.NumElements];
            be.ToFloats(dense, f);
            HalfConversions.FloatToBF16(f, bits);
        }
        return Upload(be, Nf4Weight.QuantizeBf16(bits, rows, cols, doubleQuant, blockSize));
    }

    /// <summary>The weight back on the host, as bitsandbytes would serialize it (see <c>Nf4BnbState.ToBnbState</c>).</summary>
    public Nf4Weight Download()
    {
        var be = Backend.Of(Weight.Packed);
        var packed = new byte[Weight.Packed.NumElements];
        be.ToBytes(Weight.Packed, packed);
        if (Weight.NestedAbsmax is not { } nestedT)
        {
            var absmax = new float[Weight.Absmax.NumElements];
            be.ToFloats(Weight.Absmax, absmax);
            return new Nf4Weight(Weight.Rows, Weight.Cols, Weight.BlockSize, packed, absmax, null, OriginalDType);
        }
        var codes = new byte[Weight.Absmax.NumElements];
        be.ToBytes(Weight.Absmax, codes);
        var nested = new float[nestedT.NumElements];
        be.ToFloats(nestedT, nested);
        var map = new float[256];
        be.ToFloats(Weight.NestedCodeMap!, map);
        return new Nf4Weight(Weight.Rows, Weight.Cols, Weight.BlockSize, packed, null,
            new Nf4NestedAbsmax(codes, nested, Weight.NestedOffset, map, Weight.NestedBlockSize), OriginalDType);
    }

    /// <summary>The dequantized weight [out, in] as a new tensor of <paramref name="dtype"/> (owned by the caller,
    /// outside any scope).</summary>
    public Tensor Dequantize(DType dtype)
    {
        var be = Backend.Of(Weight.Packed);
        var t = TensorScope.Unscoped(() => be.Empty(new Shape(Weight.Rows, Weight.Cols), dtype));
        be.Nf4Dequantize(Weight, 0, t);
        return t;
    }

    public void Dispose() => Weight.Dispose();
}
