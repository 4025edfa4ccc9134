using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Engine.Kernels;

namespace Engine.Backends.Cuda;

/// <summary>Launches of the flash-attention kernels (<see cref="TiledAttentionKernels"/>,
/// <see cref="TiledAttentionBackwardKernels"/>): 256-thread groups, one per 64-row tile, with their tiles in dynamic
/// shared memory (83 KB forward, 150 / 167 KB for dQ / dK·dV at Dh 128, so CUDA kernels opt in above 48 KB).</summary>
internal sealed partial class IlgpuBackend
{
    private static readonly MethodInfo TiledForwardKernel = KernelCache.Method(typeof(TiledAttentionKernels), nameof(TiledAttentionKernels.Forward));
    private static readonly MethodInfo TiledDeltaKernel = KernelCache.Method(typeof(TiledAttentionBackwardKernels), nameof(TiledAttentionBackwardKernels.Delta));
    private static readonly MethodInfo TiledQueryGradKernel = KernelCache.Method(typeof(TiledAttentionBackwardKernels), nameof(TiledAttentionBackwardKernels.QueryGrad));
    private long? _sharedPerGroup;

    private static readonly MethodInfo TiledKeyValueGradKernel = KernelCache.Method(typeof(TiledAttentionBackwardKernels), nameof(TiledAttentionBackwardKernels.KeyValueGrad));

    /// <summary>The head-dimension tile (an <see cref="IHeadDimTile"/> type) for a tiled call, or null when the simple
    /// kernels must serve it: <see cref="AttentionKernel.Simple"/> chosen (<see cref="AttentionKernel.Mma"/> falls back
    /// here), Dh above 128, groups of fewer than 256
    /// threads, or less shared memory per group than <paramref name="floats"/> needs at the tile's widest Dh.</summary>
    private Type? TiledAttention(AttentionShape s, Func<int, int> floats)
    {
        if (Attention == AttentionKernel.Simple || s.HeadDim > AttentionTile.MaxHeadDim || _acc.MaxNumThreadsPerGroup < AttentionTile.Threads)
            return null;
        int widest = s.HeadDim <= 64 ? 64 : 128;
        _sharedPerGroup ??= Native.KernelSharedMemory.GroupLimit(_acc);
        if (4L * floats(widest) > _sharedPerGroup) return null;
        return widest == 64 ? typeof(HeadDim64) : typeof(HeadDim128);
    }

    /// <summary>The kernels an attention call with head dimension <paramref name="headDim"/> runs on this backend now
    /// (<see cref="Attention"/> may be Tiled while the call falls back to Simple): benchmarks print it beside the rate.</summary>
    public AttentionKernel AttentionKernelFor(int headDim, bool backward = false) =>
        MmaAttentionTileFor(headDim, ActivationType, backward) is not null ? AttentionKernel.Mma :
        TiledAttention(new AttentionShape { HeadDim = headDim }, backward ? AttentionTile.KeyValueGradFloats : AttentionTile.ForwardFloats) is null
            ? AttentionKernel.Simple : AttentionKernel.Tiled;

    /// <summary>The tile type a forward call with head dimension <paramref name="headDim"/> would use (null: the simple
    /// kernels); lets tests prove the tiled path really runs.</summary>
    internal Type? TiledAttentionTile(int headDim) =>
        TiledAttention(new AttentionShape { HeadDim = headDim }, AttentionTile.ForwardFloats);

    private static int WidestHeadDim(Type tile) => tile == typeof(HeadDim64) ? 64 : 128;

    /// <summary>One group per tile (grid-stride beyond the cap); the kernels view their shared memory as Float4s.</summary>
    private KernelConfig TileLaunch(long tiles, int floats) =>
        new((int)Math.Clamp(tiles, 1, _device.IsCuda ? 1 << 20 : 2), AttentionTile.Threads, SharedMemoryConfig.RequestDynamic<Float4>(floats / 4));

    private void TiledForward(AttentionShape s, Type tile, Type inType, Type outType, ArrayView<byte> q, ArrayView<byte> k,
                              ArrayView<byte> v, ArrayView<byte> o, ArrayView<float> lse, int writeLse, ArrayView<int> starts)
    {
        long tiles = (long)s.Batch * s.Heads * ((s.Tq + AttentionTile.Rows - 1) / AttentionTile.Rows);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, int, ArrayView<int>, AttentionShape>>(
                TiledForwardKernel, 4 * AttentionTile.ForwardFloats(WidestHeadDim(tile)), inType, outType, tile)
            (Stream, TileLaunch(tiles, AttentionTile.ForwardFloats(s.HeadDim)), q, k, v, o, lse, writeLse, starts, s);
    }

    /// <summary>delta = rowsum(dO∘o), [B, H, Tq]: the pre-pass of the tiled and tensor-core backwards.</summary>
    private void AttentionDelta(AttentionShape s, Type inType, ArrayView<byte> dO, ArrayView<byte> o, ArrayView<float> delta)
    {
        long rows = (long)s.Batch * s.Heads * s.Tq;
        int warps = _groupSize / 32;
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, AttentionShape>>(TiledDeltaKernel, inType)
            (Stream, new KernelConfig((int)Math.Clamp((rows + warps - 1) / warps, 1, _device.IsCuda ? 1 << 20 : 2), _groupSize), dO, o, delta, s);
    }

    private void TiledBackward(AttentionShape s, Type tile, Type inType, Type dqType, Type dkvType,
                               ArrayView<byte> dO, ArrayView<byte> q, ArrayView<byte> k, ArrayView<byte> v, ArrayView<byte> o,
                               ArrayView<float> lse, ArrayView<float> delta, ArrayView<byte> dq, ArrayView<byte> dk, ArrayView<byte> dv,
                               ArrayView<int> starts)
    {
        AttentionDelta(s, inType, dO, o, delta);
        int widest = WidestHeadDim(tile);
        long queryTiles = (long)s.Batch * s.Heads * ((s.Tq + AttentionTile.Rows - 1) / AttentionTile.Rows);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                TiledQueryGradKernel, 4 * AttentionTile.QueryGradFloats(widest), inType, dqType, tile)
            (Stream, TileLaunch(queryTiles, AttentionTile.QueryGradFloats(s.HeadDim)), dO, q, k, v, lse, delta, dq, starts, s);

        long keyTiles = (long)s.Batch * s.KvHeads * ((s.Tk + AttentionTile.Keys - 1) / AttentionTile.Keys);
        _kernels.Get<Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, AttentionShape>>(
                TiledKeyValueGradKernel, 4 * AttentionTile.KeyValueGradFloats(widest), inType, dkvType, tile)
            (Stream, TileLaunch(keyTiles, AttentionTile.KeyValueGradFloats(s.HeadDim)), dO, q, k, v, lse, delta, dk, dv, starts, s);
    }
}
