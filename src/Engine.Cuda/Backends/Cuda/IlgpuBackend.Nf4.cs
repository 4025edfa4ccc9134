using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo Nf4NestedAbsmaxKernel = KernelCache.Method(typeof(Nf4Kernels), nameof(Nf4Kernels.NestedAbsmax));
    private static readonly MethodInfo Nf4DequantizeKernel = KernelCache.Method(typeof(Nf4Kernels), nameof(Nf4Kernels.Dequantize));
    private static readonly MethodInfo Nf4MatVecKernel = KernelCache.Method(typeof(Nf4Kernels), nameof(Nf4Kernels.MatVec));

    private Tensor? _nf4Table;

    /// <summary>Products a·Wᵀ with at most this many rows in a use the fused dequantize-GEMV kernel (generation);
    /// larger ones dequantize W into a temporary in the activation dtype and run the GEMM (cuBLAS on CUDA), which
    /// bitsandbytes also finds faster on Hopper beyond a handful of rows. 0 disables the fused kernel.</summary>
    public int Nf4FusedMaxRows { get; set; } = 4;

    public void Nf4Dequantize(Nf4DeviceWeight w, long start, Tensor dst)
    {
        const string op = "nf4 dequantize";
        CheckNf4(w, op);
        long n = dst.NumElements;
        if (start < 0 || start > w.Count - n)
            throw new ArgumentOutOfRangeException(nameof(start), $"{op}: elements {start}..{start + n - 1} are outside the {w.Count} of {w.Rows}×{w.Cols}");
        if (n == 0) return;
        long b0 = start / w.BlockSize, b1 = (start + n - 1) / w.BlockSize + 1;
        using var scales = BlockScales(w, b0, b1 - b0);
        long firstBlock = w.IsDoubleQuantized ? b0 : 0; // the weight's own absmax starts at block 0
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, long, long, int, long, int, float>>(
                Nf4DequantizeKernel, FloatElem(dst, op))
            (Stream, Elementwise(n), View(w.Packed), View(scales).Cast<float>(), Nf4Table(), View(dst), start, n, w.BlockSize, firstBlock,
             w.IsDoubleQuantized ? 1 : 0, w.NestedOffset);
    }

    public void Nf4MatMul(Tensor a, Nf4DeviceWeight w, bool transW, Tensor c)
    {
        const string op = "nf4 matmul";
        CheckNf4(w, op);
        int inF = transW ? w.Cols : w.Rows, outF = transW ? w.Rows : w.Cols;
        if (a.Shape.Last != inF || c.Shape.Last != outF || a.Shape.Rows != c.Shape.Rows)
            throw new ArgumentException($"{op}: {a.Shape} · {w.Rows}×{w.Cols}{(transW ? "ᵀ" : "")} does not give {c.Shape}");
        long m = a.Shape.Rows;
        if (m == 0) return;
        if (transW && m <= Nf4FusedMaxRows)
        {
            MatVecNf4(a, w, c, (int)m);
            return;
        }
        // Freed as soon as the GEMM is queued: the caching allocator hands the block to the next weight, so one
        // projection's worth of dequantized weight exists at a time.
        using var dense = Scratch(new Shape(w.Rows, w.Cols), ActivationType);
        Nf4Dequantize(w, 0, dense);
        MatMul(a, false, dense, transW, c);
    }

    private void MatVecNf4(Tensor x, Nf4DeviceWeight w, Tensor y, int m)
    {
        const string op = "nf4 matvec";
        using var scales = BlockScales(w, 0, w.BlockCount);
        bool aligned = w.Cols % 8 == 0 && w.Packed.Offset % 4 == 0;
        int warpsPerGroup = _groupSize / 32;
        long pairs = (long)m * w.Rows;
        var config = new KernelConfig((int)Math.Clamp((pairs + warpsPerGroup - 1) / warpsPerGroup, 1, _device.IsCuda ? 1 << 20 : 2), _groupSize);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, int, int, int, int, int, float, int>>(
                Nf4MatVecKernel, FloatElem(x, op), FloatElem(y, op))
            (Stream, config, View(x), View(w.Packed), View(scales).Cast<float>(), Nf4Table(), View(y), m, w.Rows, w.Cols, w.BlockSize,
             w.IsDoubleQuantized ? 1 : 0, w.NestedOffset, aligned ? 1 : 0);
    }

    /// <summary>The fp32 scales of the blocks: a new handle to the weight's own absmax (all blocks) when it is not
    /// double-quantized, else a temporary of fl(map[q] · nested) for blocks [first, first + count) (the offset is added
    /// by the kernel that reads it).</summary>
    private Tensor BlockScales(Nf4DeviceWeight w, long first, long count)
    {
        if (w.NestedAbsmax is not { } nested) return w.Absmax.Share(track: false);
        var scaled = Scratch(new Shape((int)count), DType.F32);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, long, int>>(
                Nf4NestedAbsmaxKernel)
            (Stream, Elementwise(count), View(w.Absmax), View(nested).Cast<float>(), View(w.NestedCodeMap!).Cast<float>(),
             View(scaled).Cast<float>(), first, count, w.NestedBlockSize);
        return scaled;
    }

    /// <summary>The 16 NF4 code values on the device, uploaded once.</summary>
    private ArrayView<float> Nf4Table()
    {
        _nf4Table ??= TensorScope.Unscoped(() => FromFloats(Nf4.CodeValues, new Shape(16), DType.F32));
        return View(_nf4Table).Cast<float>();
    }

    private void CheckNf4(Nf4DeviceWeight w, string op)
    {
        if (!ReferenceEquals(w.Device, this)) throw new InvalidOperationException($"{op}: the NF4 weight lives on {w.Device.Name}, not on {Name}");
    }
}
