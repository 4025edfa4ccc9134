using System.Runtime.InteropServices;
using Engine.Distributed;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>ZeRO-1 (<c>--zero 1</c>) in data-parallel training: AdamW's moments sharded across the ranks. The trainable
/// list is cut into contiguous groups by <see cref="ZeroPartition"/>; each rank's <see cref="AdamWOptimizer"/> holds m
/// and v for its own group only (<see cref="Owned"/>). Gradients are still summed in full, so the global norm and the
/// clip scale are those of a run without sharding; each rank updates the parameters it owns and then every group is
/// broadcast from its owner (<see cref="ShareUpdates"/>). The update is elementwise, so which rank computes it changes
/// no bit: losses, norms and weights equal the run without sharding. Checkpoints keep the whole optimizer.safetensors
/// (<see cref="GatherMoments"/> brings every group's moments to rank 0), and a resuming rank restores only the moments
/// it owns, so a checkpoint moves freely between runs with and without sharding.</summary>
internal sealed class ZeroOneSharding
{
    private readonly ICommunicator _comm;
    private readonly IReadOnlyList<(string Name, Tensor Param)> _trainable;
    private readonly int[] _owners;
    private readonly List<Tensor>[] _groups;

    public ZeroOneSharding(ICommunicator comm, IReadOnlyList<(string Name, Tensor Param)> trainable)
    {
        _comm = comm;
        _trainable = trainable;
        _owners = ZeroPartition.Owners(Counts(trainable), comm.Size);
        _groups = new List<Tensor>[comm.Size];
        for (int r = 0; r < comm.Size; r++) _groups[r] = new List<Tensor>();
        for (int i = 0; i < trainable.Count; i++) _groups[_owners[i]].Add(trainable[i].Param);
        Owned = Enumerable.Range(0, trainable.Count).Where(i => _owners[i] == comm.Rank).Select(i => trainable[i]).ToList();
    }

    /// <summary>The trainable parameters this rank owns: the ones its optimizer holds moments for and updates.</summary>
    public IReadOnlyList<(string Name, Tensor Param)> Owned { get; }

    /// <summary>Elements whose moments each rank holds (a pure function of the shapes and the world size, as the run
    /// summary reports it before training).</summary>
    public static long[] Loads(IReadOnlyList<(string Name, Tensor Param)> trainable, int size)
    {
        var counts = Counts(trainable);
        return ZeroPartition.Loads(counts, ZeroPartition.Owners(counts, size), size);
    }

    /// <summary>After this rank's AdamW step on <see cref="Owned"/>: every group is broadcast from its owner, so every
    /// rank holds the same weights, bit for bit.</summary>
    public void ShareUpdates()
    {
        for (int r = 0; r < _groups.Length; r++)
            if (_groups[r].Count > 0) _comm.Broadcast(_groups[r], r);
    }

    /// <summary>Every trainable parameter's moments, in order, on rank 0 (null on the others): a collective every rank
    /// calls at the same step. Each group's owner broadcasts its moments, one parameter at a time through the host, so
    /// no rank ever holds more than one parameter's moments of another.</summary>
    /// <param name="optimizer">This rank's optimizer, over <see cref="Owned"/>.</param>
    public List<OptimizerMoments>? GatherMoments(AdamWOptimizer optimizer)
    {
        var mine = optimizer.Slots.ToDictionary(s => s.Name, s => s.Slot, StringComparer.Ordinal);
        bool main = _comm.Rank == 0;
        var all = main ? new List<OptimizerMoments>(_trainable.Count) : null;
        for (int i = 0; i < _trainable.Count; i++)
        {
            var (name, p) = _trainable[i];
            int owner = _owners[i];
            if (owner == 0)
            {
                if (main) all!.Add(OptimizerMoments.Of(name, mine[name]));
                continue;
            }
            var moments = owner == _comm.Rank ? OptimizerMoments.Of(name, mine[name])
                : new OptimizerMoments(name, p.Shape.ToArray(), new float[p.NumElements], new float[p.NumElements]);
            BroadcastFloats(moments.ExpAvg, owner);
            BroadcastFloats(moments.ExpAvgSq, owner);
            all?.Add(moments);
        }
        return all;
    }

    /// <summary>Broadcasts a host float array from <paramref name="root"/>, in pieces of at most 1 GiB (a span's length
    /// is an int).</summary>
    private void BroadcastFloats(float[] values, int root)
    {
        const int Piece = 1 << 28;
        for (int done = 0; done < values.Length; done += Piece)
            _comm.Broadcast(MemoryMarshal.AsBytes(values.AsSpan(done, Math.Min(Piece, values.Length - done))), root);
    }

    private static long[] Counts(IReadOnlyList<(string Name, Tensor Param)> trainable) => trainable.Select(t => t.Param.NumElements).ToArray();
}
