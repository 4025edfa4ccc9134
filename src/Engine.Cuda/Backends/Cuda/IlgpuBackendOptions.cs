using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>Which implementation <see cref="IlgpuBackend.MatMul"/> uses.</summary>
internal enum GemmPath
{
    /// <summary>cuBLAS GemmEx on CUDA, the ILGPU kernel elsewhere.</summary>
    Auto,
    CublasGemmEx,
    /// <summary>cuBLASLt with a cached heuristic plan per problem shape (CUDA only).</summary>
    CublasLt,
    /// <summary>The plain ILGPU GEMM kernel (always on the CPU accelerator; slow on a GPU).</summary>
    Kernel,
}

/// <summary>Which kernels <see cref="IlgpuBackend.AttentionForward"/> and <see cref="IlgpuBackend.AttentionBackward"/>
/// use.</summary>
internal enum AttentionKernel
{
    /// <summary>Flash-attention tiles (Engine.Kernels.TiledAttentionKernels): 64 query rows × 64 keys per step, fp32
    /// FMA. Used for head dimensions up to 128 on accelerators with 256-thread groups and enough shared memory per
    /// group; other calls fall back to <see cref="Simple"/>.</summary>
    Tiled,
    /// <summary>The first version (Engine.Kernels.AttentionKernels): one thread group per query or key row, no reuse
    /// of K/V across rows. Slow; kept as a cross-check.</summary>
    Simple,
    /// <summary>Tensor cores (mma.sync m16n8k16 bf16, fragments through ldmatrix): the forward
    /// (Engine.Kernels.MmaAttentionKernels, FA2 register reuse) and the deterministic two-pass backward
    /// (Engine.Kernels.MmaAttentionBackwardKernels) for bf16 q/k/v with head dimension 64 or 128 on groups of 128
    /// threads; every other call uses <see cref="Tiled"/> (and its fallback). Not the default until measured on a GPU.</summary>
    Mma,
}

internal sealed class IlgpuBackendOptions
{
    /// <summary>The dtype of activations: BF16 for training on a GPU; F32 lets tests compare against the CPU backend
    /// at fp32 tolerance.</summary>
    public DType ActivationType { get; init; } = DType.BF16;

    public GemmPath Gemm { get; init; } = GemmPath.Auto;

    public AttentionKernel Attention { get; init; } = AttentionKernel.Tiled;

    /// <summary>Threads per group for elementwise and row kernels; null picks 256 on CUDA and 32 on the CPU accelerator
    /// (each simulated thread is an OS thread there).</summary>
    public int? GroupSize { get; init; }

    /// <summary>Device memory the backend may hold (tensors and its cache); null: all the device has. An allocation
    /// beyond it raises the same out-of-memory error as a full device.</summary>
    public long? MemoryLimitBytes { get; init; }
}
