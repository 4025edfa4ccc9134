using Engine.Kernels;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

internal sealed partial class IlgpuBackend
{
    /// <summary>Cuts a tensor list into the launches of a multi-tensor kernel: runs of up to
    /// <see cref="TensorPack32{T}.Size"/> items that share a kernel instantiation (<paramref name="key"/>: the dtypes),
    /// in list order. Empty tensors are left out: they have no elements and give a pack nothing to do.</summary>
    private static List<List<T>> Packs<T, TKey>(IEnumerable<T> items, Func<T, long> length, Func<T, TKey> key) where TKey : notnull
    {
        var packs = new List<List<T>>();
        var open = new Dictionary<TKey, List<T>>();
        foreach (var item in items)
        {
            if (length(item) == 0) continue;
            var k = key(item);
            if (!open.TryGetValue(k, out var pack) || pack.Count == TensorPack32<int>.Size)
            {
                pack = new List<T>(TensorPack32<int>.Size);
                open[k] = pack;
                packs.Add(pack);
            }
            pack.Add(item);
        }
        return packs;
    }

    /// <summary>Device→host reads so far: every wait of the host for the stream (reading a tensor, a scalar, or an
    /// explicit <see cref="Synchronize"/>). The trainer's goal is one per optimizer step; tests count them.</summary>
    public long HostReads { get; private set; }
}
