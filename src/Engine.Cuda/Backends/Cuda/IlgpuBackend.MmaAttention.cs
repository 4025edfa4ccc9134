using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

/// <summary>Launches of the tensor-core attention kernels (<see cref="MmaAttentionKernels"/>,
/// <see cref="MmaAttentionBackwardKernels"/>): 128-thread groups, one per 64-row query (or key) tile, with their tiles
/// in dynamic shared memory (forward Q, K, V: 27 KB at Dh 64, 52 KB at Dh 128; backward Q, dO, K, V and row
/// statistics: 38 / 71 KB, so CUDA kernels opt in above 48 KB). Chosen only by <see cref="AttentionKernel.Mma"/>.</summary>
internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo MmaForwardKernel = KernelCache.Method(typeof(MmaAttentionKernels), nameof(MmaAttentionKernels.Forward));
    private static readonly MethodInfo MmaKeyValueGradKernel = KernelCache.Method(typeof(MmaAttentionBackwardKernels), nameof(MmaAttentionBackwardKernels.KeyValueGrad));
    private static readonly MethodInfo MmaQueryGradKernel = KernelCache.Method(typeof(MmaAttentionBackwardKernels), nameof(MmaAttentionBackwardKernels.QueryGrad));

    /// <summary>The head-dimension tile for a tensor-core call, or null when the tiled path must serve it: another
    /// kernel chosen, q/k/v not bf16 (<paramref name="inputs"/>), Dh other than 64 or 128, groups of fewer than 128
    /// threads, or less shared memory per group than <paramref name="words"/>(Dh) 32-bit words.</summary>
    private Type? MmaAttentionTile(int headDim, DType inputs, Func<int, int> words)
    {
        if (Attention != AttentionKernel.Mma || inputs != DType.BF16 || headDim is not (64 or 128)
            || _acc.MaxNumThreadsPerGroup < MmaAttentionKernels.Threads)
            return null;
        _sharedPerGroup ??= Native.KernelSharedMemory.GroupLimit(_acc);
        if (4L * words(headDim) > _sharedPerGroup) return null;
        return headDim == 64 ? typeof(HeadDim64) : typeof(HeadDim128);
    }

    /// <summary>The tile type a tensor-core forward (or <paramref name="backward"/>) call would use (null: the tiled or
    /// simple kernels); lets tests prove the Mma path really runs.</summary>
    internal Type? MmaAttentionTileFor(int headDim, DType inputs, bool backward = false) =>
        MmaAttentionTile(headDim, inputs, backward ? MmaAttentionBackwardKernels.SharedWords : MmaAttentionKernels.SharedWords);

    /// <summary>The kernels copy their bf16 inputs as 32-bit words (pairs): views starting mid-word take the tiled path.</summary>
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

    /// <summary>D = rowsum(dO∘o) (the tiled backward's pre-pass), then dK/dV by key tile and dQ by query tile: two
    /// passes instead of atomics, so the gradients are deterministic.</summary>
    private void MmaBackward(AttentionShape s, Type tile, Type dqType, Type dkvType, ArrayView<byte> dO, ArrayView<byte> q,
                             ArrayView<byte> k, ArrayView<byte> v, ArrayView<byte> o, ArrayView<float> lse, ArrayView<float> delta,
                             ArrayView<byte> dq, ArrayView<byte> dk, ArrayView<byte> dv, ArrayView<int> starts)
    {
        AttentionDelta(s, typeof(BF16Elem), dO, o, delta);
        int words = MmaAttentionBackwardKernels.SharedWords(s.HeadDim);
        int Grid(long tiles) => (int)Math.Clamp(tiles, 1, _device.IsCuda ? 1 << 20 : 2);
        long keyTiles = (long)s.Batch * s.KvHeads * ((s.Tk + MmaAttentionKernels.Keys - 1) / MmaAttentionKernels.Keys);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                MmaKeyValueGradKernel, 4 * words, dkvType, tile)
            (Stream, new KernelConfig(Grid(keyTiles), MmaAttentionKernels.Threads, SharedMemoryConfig.RequestDynamic<uint>(words)),
             dO, q, k, v, lse, delta, dk, dv, starts, s);
        long queryTiles = (long)s.Batch * s.Heads * ((s.Tq + MmaAttentionKernels.Rows - 1) / MmaAttentionKernels.Rows);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                MmaQueryGradKernel, 4 * words, dqType, tile)
            (Stream, new KernelConfig(Grid(queryTiles), MmaAttentionKernels.Threads, SharedMemoryConfig.RequestDynamic<uint>(words)),
             dO, q, k, v, lse, delta, dq, starts, s);
    }
}
