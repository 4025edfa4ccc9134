using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>The collectives that data-parallel training needs between the ranks of one job (one process per device or
/// CPU rank, as torchrun and mpirun start them). Every rank calls the same collectives in the same order with the same
/// shapes. Every call returns within <see cref="Timeout"/> or throws <see cref="CollectiveTimeoutException"/>, so a
/// rank that died or hangs never hangs the others. A single-process run uses no communicator at all.</summary>
internal interface ICommunicator : IDisposable
{
    /// <summary>"mpi" or "nccl" (messages, the run summary).</summary>
    string Name { get; }
    /// <summary>This process's rank, 0 ≤ Rank &lt; Size; rank 0 alone writes logs, checkpoints and outputs.</summary>
    int Rank { get; }
    /// <summary>Ranks in the job (the world size).</summary>
    int Size { get; }
    /// <summary>The longest any one collective may wait for the other ranks.</summary>
    TimeSpan Timeout { get; }

    /// <summary>Sums fp32 tensors elementwise across ranks, in place: afterwards every rank holds the same sums. The
    /// tensors live on the backend the communicator was made for; an implementation may pack them into buckets.</summary>
    void AllReduceSum(IReadOnlyList<Tensor> tensors);
    /// <summary>The packing of <see cref="AllReduceSum(IReadOnlyList{Tensor})"/>: <see cref="BucketPlan"/>'s bucket size and
    /// the size from which a tensor is reduced in place, in elements. <see cref="GradientBucketer"/> packs with the same
    /// numbers, so its buckets are the collectives the blocking call issues for the same list.</summary>
    (int Bucket, int Direct) PackingElements { get; }
    /// <summary>True when <see cref="StartAllReduceSum"/> returns while the sum is still in flight, so the trainer can
    /// overlap gradient buckets with the rest of the backward pass; false when it would only block where it stands.</summary>
    bool OverlapsCollectives => false;
    /// <summary>Starts summing one fp32 tensor elementwise across ranks, in place, as one collective of its whole length
    /// (the same collective <see cref="AllReduceSum(IReadOnlyList{Tensor})"/> issues for a packed bucket or a direct
    /// tensor of that length), and returns a handle to wait on. The tensor must not be read or written until the handle's
    /// <see cref="IPendingCollective.Wait"/> returns. Every rank starts the same collectives in the same order; several may
    /// be in flight at once. This default completes the sum before it returns (no overlap).</summary>
    IPendingCollective StartAllReduceSum(Tensor tensor)
    {
        AllReduceSum([tensor]);
        return PendingCollective.Completed;
    }
    /// <summary>Sums host values across ranks in place (the loss, token counts, a stop flag).</summary>
    void AllReduceSum(Span<double> values);
    /// <summary>Copies <paramref name="root"/>'s bytes into every other rank's <paramref name="data"/> (same length on all).</summary>
    void Broadcast(Span<byte> data, int root);
    /// <summary>Copies <paramref name="root"/>'s fp32 tensors into every other rank's tensors of the same shapes, in
    /// place (ZeRO-1 shares each owner's updated parameters this way). The tensors live on the backend the communicator
    /// was made for; an implementation may pack small ones into buckets, as <see cref="BucketPlan"/> says.</summary>
    void Broadcast(IReadOnlyList<Tensor> tensors, int root);
    /// <summary>Copies <paramref name="root"/>'s fp32 tensor into every other rank's <paramref name="tensor"/>, in place.</summary>
    void Broadcast(Tensor tensor, int root) => Broadcast([tensor], root);
    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}

/// <summary>A collective that did not complete within the communicator's timeout: another rank died, hangs, or is
/// far behind. The job cannot continue.</summary>
internal sealed class CollectiveTimeoutException : EngineException
{
    public CollectiveTimeoutException(string collective, int rank, int size, TimeSpan timeout)
        : base($"rank {rank} of {size}: {collective} did not complete within {timeout.TotalSeconds:0.#} s: another rank died, hangs " +
               "or is far behind (raise --dist-timeout if a rank legitimately needs longer, e.g. while rank 0 saves a large checkpoint)")
    {
        Collective = collective;
    }

    public string Collective { get; }
}
