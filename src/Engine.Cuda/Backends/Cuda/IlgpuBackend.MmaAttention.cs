using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>Launches of the tensor-core attention forward (<see cref="MmaAttentionKernels"/>): 128-thread groups, one
/// per 64-row query tile, with Q, K and V tiles in dynamic shared memory (27 KB at Dh 64, 52 KB at Dh 128, so CUDA
/// kernels opt in above 48 KB). Chosen only by <see cref="AttentionKernel.Mma"/>; the backward stays tiled.</summary>
internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo MmaForwardKernel = KernelCache.Method(typeof(MmaAttentionKernels), nameof(MmaAttentionKernels.Forward));

    /// <summary>The head-dimension tile for a tensor-core forward call, or null when the tiled path must serve it:
    /// another kernel chosen, q/k/v not bf16 (<paramref name="inputs"/>), Dh other than 64 or 128, groups of fewer than
    /// 128 threads, or too little shared memory per group.</summary>
    private Type? MmaAttentionTile(int headDim, DType inputs)
    {
        if (Attention != AttentionKernel.Mma || inputs != DType.BF16 || headDim is not (64 or 128)
            || _acc.MaxNumThreadsPerGroup < MmaAttentionKernels.Threads)
            return null;
        _sharedPerGroup ??= Native.KernelSharedMemory.GroupLimit(_acc);
        if (4L * MmaAttentionKernels.SharedWords(headDim) > _sharedPerGroup) return null;
        return headDim == 64 ? typeof(HeadDim64) : typeof(HeadDim128);
    }

    /// <summary>The tile type a tensor-core forward call would use (null: the tiled or simple kernels); lets tests prove
    /// the Mma path really runs.</summary>
    internal Type? MmaAttentionTileFor(int headDim, DType inputs) => MmaAttentionTile(headDim, inputs);

    /// <summary>The kernel copies q, k and v as 32-bit words (bf16 pairs): views starting mid-word take the tiled path.</summary>
    private static bool WordAligned(params ArrayView<byte>[] views) =>
        views.All(v => ((IContiguousArrayView)v).IndexInBytes % 4 == 0);

    private void MmaForward(AttentionShape s, Type tile, Type outType, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v,
                            ArrayView<byte> o, ArrayView<float> lse, int writeLse, ArrayView<int> starts)
    {
        long tiles = (long)s.Batch * s.Heads * ((s.Tq + MmaAttentionKernels.Rows - 1) / MmaAttentionKernels.Rows);
        int words = MmaAttentionKernels.SharedWords(s.HeadDim);
        var config = new KernelConfig((int)Math.Clamp(tiles, 1, _device.IsCuda ? 1 << 20 : 2), MmaAttentionKernels.Threads,
                                      SharedMemoryConfig.RequestDynamic<uint>(words));
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, int, ArrayView<int>, AttentionShape>>(
                MmaForwardKernel, 4 * words, outType, tile)
            (Stream, config, q, k, v, o, lse, writeLse, starts, s);
    }
}
