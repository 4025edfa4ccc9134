using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Backends.Cuda.Native;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo GemmKernel = KernelCache.Method(typeof(GemmKernels), nameof(GemmKernels.Gemm));

    /// <summary>Operands of different dtypes (a bf16 activation times an fp32 trainable weight) are first brought to
    /// <see cref="ActivationType"/>, as autocast does; cuBLAS then computes with fp32 accumulation. An output dtype cuBLAS
    /// cannot pair with the inputs goes through an fp32 temporary. The same conversions run before the ILGPU kernel on
    /// the CPU accelerator, so CI exercises them.</summary>
    public void MatMul(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        const string op = "matmul";
        var g = MatMulGeometry.Of(a, transA, b, transB, c);
        FloatElem(a, op); FloatElem(b, op); FloatElem(c, op);
        if (g.Batch == 0 || g.M == 0 || g.N == 0) return;
        var inType = a.DType == b.DType ? a.DType : ActivationType;
        using var a2 = As(a, inType);
        using var b2 = As(b, inType);
        var path = ResolvedGemmPath;
        if (path == GemmPath.Kernel)
        {
            LaunchGemmKernel(g, a2, transA, b2, transB, c, alpha, beta);
            return;
        }
        if (c.DType == DType.F32 || c.DType == inType)
        {
            RunCublas(g, a2, transA, b2, transB, c, alpha, beta, path == GemmPath.CublasLt);
            return;
        }
        using var c32 = Scratch(c.Shape, DType.F32);
        if (beta != 0f) Copy(c, c32);
        RunCublas(g, a2, transA, b2, transB, c32, alpha, beta, path == GemmPath.CublasLt);
        Copy(c32, c);
    }

    private GemmPath ResolvedGemmPath => GemmPath switch
    {
        GemmPath.Auto => IsCuda ? GemmPath.CublasGemmEx : GemmPath.Kernel,
        GemmPath.Kernel => GemmPath.Kernel,
        _ when !IsCuda => throw new NotSupportedException($"{GemmPath} needs a CUDA device; {Name} is not one"),
        var p => p,
    };

    private void LaunchGemmKernel(MatMulGeometry g, Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        var s = new GemmShape
        {
            Batch = g.Batch, M = g.M, N = g.N, K = g.K,
            Lda = transA ? g.M : g.K, Ldb = transB ? g.K : g.N, Ldc = g.N,
            StrideA = g.StrideA, StrideB = g.StrideB, StrideC = g.StrideC,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta,
        };
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, GemmShape>>(
                GemmKernel, Elem(a.DType), Elem(b.DType), Elem(c.DType))
            (Stream, Elementwise((long)g.Batch * g.M * g.N), View(a), View(b), View(c), s);
    }

    private void RunCublas(MatMulGeometry g, Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta, bool useLt)
    {
        var p = GemmProblem.FromRowMajor(g, transA, transB, CudaType(a.DType), CudaType(c.DType));
        var blas = Cublas(); // binds the context to this thread (through Stream) before any cuBLAS call
        blas.Run(p, DevicePointer(b), DevicePointer(a), DevicePointer(c), alpha, beta, useLt);
    }

    /// <summary>The cuBLAS wrapper, created on first use (loading libcublas; a clear error when it is missing).</summary>
    private CublasGemm Cublas()
    {
        var stream = Stream;
        if (_cublas is not null) return _cublas;
        if (stream is not ILGPU.Runtime.Cuda.CudaStream cuda) throw new NotSupportedException($"cuBLAS needs a CUDA device; {Name} is not one");
        return _cublas = new CublasGemm(cuda.StreamPtr, _allocator);
    }

    private static CudaDataType CudaType(DType t) => t switch
    {
        DType.F32 => CudaDataType.R32F,
        DType.BF16 => CudaDataType.R16BF,
        DType.F16 => CudaDataType.R16F,
        _ => throw new NotSupportedException($"cuBLAS has no {t.Name()} matmul here"),
    };
}
