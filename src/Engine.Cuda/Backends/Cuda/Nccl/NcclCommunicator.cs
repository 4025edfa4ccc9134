using System.Diagnostics;
using System.Runtime.InteropServices;
using Engine.Backends.Cuda.Native;
using Engine.Distributed;
using Engine.Tensors;

namespace Engine.Backends.Cuda.Nccl;

/// <summary>The collectives of GPU ranks through NCCL ("nccl"), one process per GPU as torchrun starts them. Rank 0
/// makes NCCL's unique id and <see cref="TcpRendezvous"/> hands it to the others through MASTER_ADDR:MASTER_PORT
/// (world size 1 needs no rendezvous); then every rank calls ncclCommInitRank with the backend's CUDA context current,
/// so NCCL picks the backend's device. Every collective is queued on the backend's own stream, in order with its
/// kernels, and then awaited by polling the stream (cuStreamQuery) and ncclCommGetAsyncError against a deadline of
/// <see cref="Timeout"/>; past it the communicator is aborted (ncclCommAbort, which stops NCCL's kernels) and a
/// <see cref="CollectiveTimeoutException"/> is thrown. fp32 tensors are reduced as <see cref="BucketPlan"/> says:
/// those under <see cref="DirectElements"/> elements packed into one reused device bucket (one all-reduce per
/// <see cref="BucketElements"/>), larger ones in place; tensor broadcasts (ZeRO-1's parameters) follow the same plan. Host values travel through small device buffers (fp64 sums, byte broadcasts).
///
/// Written and unit-tested without a GPU (CPU-only machine): nothing here has run against a real NCCL yet. The first
/// GPU run must check, in this order:
/// 1. NCCL loads (<c>libnccl.so.2</c> in the loader path, or the torch wheel's copy under
///    <c>site-packages/nvidia/nccl/lib</c>, or <c>ENGINE_NCCL_LIBRARY</c>) and <see cref="NcclNative.Version"/> prints
///    a 2.x version.
/// 2. World size 1 (RANK=0 WORLD_SIZE=1, no MASTER_ADDR): ncclCommInitRank with nranks 1 succeeds in ILGPU's own
///    CUDA context (ILGPU creates a context with cuCtxCreate, not the primary context PyTorch uses: if NCCL's init or
///    its proxy thread fails with an invalid-context or illegal-address error, that is the cause); AllReduceSum of a
///    few fp32 tensors of mixed sizes (some bucketed, one over <see cref="DirectElements"/>) leaves them bit-identical;
///    AllReduceSum(double[]) and Broadcast leave host values unchanged; and a short training run through the
///    communicator matches the same run without any communicator exactly (loss and weights bit for bit).
/// 3. Two ranks, when a machine with two or more GPUs exists: cuda:0 and cuda:1 as ranks 0 and 1 on 127.0.0.1; sums
///    equal the elementwise sum of both ranks' inputs (fp32 sums of two values are exact to the rounding of one add);
///    a broadcast from rank 1 reaches rank 0; killing one rank mid-step makes the other throw
///    <see cref="CollectiveTimeoutException"/> within --dist-timeout. Two calls are not covered by the polled
///    deadline and must be watched: ncclCommInitRank (the rendezvous just proved every rank alive, so it should not
///    wait long) and the first collective's enqueue, inside which NCCL sets up its connections lazily; neither may
///    hang when a peer is already gone (if one does, create the communicator non-blocking with
///    ncclCommInitRankConfig and poll ncclCommGetAsyncError for ncclInProgress).</summary>
internal sealed unsafe class NcclCommunicator : ICommunicator
{
    /// <summary>Elements of the reused bucket that small tensors are packed into (16 MiB of fp32; PyTorch DDP's
    /// default bucket is 25 MiB).</summary>
    public const int BucketElements = 4 << 20;
    /// <summary>Tensors with at least this many elements are reduced in place rather than copied through the bucket.</summary>
    public const int DirectElements = 1 << 20;

    private readonly NcclNative _nccl;
    private readonly IlgpuBackend _backend;
    private IntPtr _comm;
    private Tensor? _bucket;
    private bool _aborted;

    private NcclCommunicator(NcclNative nccl, IlgpuBackend backend, IntPtr comm, int rank, int size, TimeSpan timeout)
    {
        (_nccl, _backend, _comm, Rank, Size, Timeout) = (nccl, backend, comm, rank, size, timeout);
    }

    public string Name => "nccl";
    public int Rank { get; }
    public int Size { get; }
    public TimeSpan Timeout { get; }
    // No overlapped form yet: StartAllReduceSum is the interface's blocking default, so the trainer keeps NCCL on the
    // blocking path after the backward pass (see GradientBucketer).
    public (int Bucket, int Direct) PackingElements => (BucketElements, DirectElements);

    /// <summary>Loads NCCL (a clear error when it is missing, before anything else), checks that
    /// <paramref name="backend"/> is a CUDA device, exchanges the unique id and creates the communicator.</summary>
    public static NcclCommunicator Create(DistributedEnvironment env, IBackend backend, TimeSpan timeout)
    {
        var nccl = NcclNative.Load();
        if (backend is not IlgpuBackend { IsCuda: true } gpu)
            throw new EngineException($"rank {env.Rank} of {env.Size}: NCCL needs a CUDA device, and {backend.Name} is not one");
        _ = gpu.CudaStreamHandle; // makes the backend's context current: ncclCommInitRank takes its device from it
        NcclUniqueId id = default;
        var idBytes = new Span<byte>(id.Internal, NcclUniqueId.Bytes);
        if (env.Rank == 0) nccl.Check("ncclGetUniqueId", nccl.GetUniqueId(&id));
        if (env.Size > 1)
            TcpRendezvous.Exchange(env, env.Rank == 0 ? idBytes : [], NcclUniqueId.Bytes, timeout).CopyTo(idBytes);
        IntPtr comm;
        nccl.Check($"ncclCommInitRank (rank {env.Rank} of {env.Size} on {gpu.Name})", nccl.CommInitRank(&comm, env.Size, id, env.Rank));
        return new NcclCommunicator(nccl, gpu, comm, env.Rank, env.Size, timeout);
    }

    public void AllReduceSum(IReadOnlyList<Tensor> tensors) =>
        RunPlan(tensors, "all-reduce", "ncclAllReduce", copyIn: true, copyOut: true,
                (p, n, stream) => _nccl.AllReduce(p, p, n, (int)NcclDataType.Float32, (int)NcclRedOp.Sum, Comm, stream));

    /// <summary>Runs one collective per step of the tensors' <see cref="BucketPlan"/>, every call queued on the
    /// backend's stream and the stream awaited once: large tensors in place, small ones packed into the bucket (copied
    /// in where <paramref name="copyIn"/>, back out where <paramref name="copyOut"/>).</summary>
    private void RunPlan(IReadOnlyList<Tensor> tensors, string what, string call, bool copyIn, bool copyOut, Func<IntPtr, nuint, IntPtr, int> collective)
    {
        foreach (var t in tensors)
            if (t.DType != DType.F32) throw new ArgumentException($"nccl {what}: expected fp32 tensors, got {t}");
        var deadline = Stopwatch.StartNew();
        var stream = _backend.CudaStreamHandle;
        foreach (var step in BucketPlan.Plan(tensors.Select(t => t.NumElements).ToArray(), BucketElements, DirectElements))
        {
            if (step.Direct is int direct)
            {
                var t = tensors[direct];
                Enqueue(call, collective(_backend.DevicePointer(t), (nuint)t.NumElements, stream));
                continue;
            }
            if (copyIn)
                foreach (var slot in step.Packed)
                    using (var view = Bucket().Slice(slot.Start, slot.Count)) _backend.Copy(tensors[slot.Tensor], view);
            Enqueue(call, collective(_backend.DevicePointer(Bucket()), (nuint)step.PackedElements, stream));
            if (copyOut)
                foreach (var slot in step.Packed)
                    using (var view = Bucket().Slice(slot.Start, slot.Count)) _backend.Copy(view, tensors[slot.Tensor]);
        }
        Wait(what, deadline);
    }

    private Tensor Bucket() => _bucket ??= TensorScope.Unscoped(() => _backend.Empty(new Shape(BucketElements), DType.F32));

    public void AllReduceSum(Span<double> values)
    {
        if (values.IsEmpty) return;
        var deadline = Stopwatch.StartNew();
        var stream = _backend.CudaStreamHandle;
        using var buffer = _backend.FromBytes(MemoryMarshal.AsBytes(values), new Shape(values.Length * sizeof(double)), DType.U8);
        var p = _backend.DevicePointer(buffer);
        Enqueue("ncclAllReduce", _nccl.AllReduce(p, p, (nuint)values.Length, (int)NcclDataType.Float64, (int)NcclRedOp.Sum, Comm, stream));
        Wait("all-reduce", deadline);
        _backend.ToBytes(buffer, MemoryMarshal.AsBytes(values));
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of {Size}");
        if (data.IsEmpty) return;
        var deadline = Stopwatch.StartNew();
        var stream = _backend.CudaStreamHandle;
        using var buffer = _backend.FromBytes(data, new Shape(data.Length), DType.U8);
        var p = _backend.DevicePointer(buffer);
        Enqueue("ncclBroadcast", _nccl.Broadcast(p, p, (nuint)data.Length, (int)NcclDataType.Uint8, root, Comm, stream));
        Wait("broadcast", deadline);
        _backend.ToBytes(buffer, data);
    }

    /// <summary>Broadcasts fp32 tensors as <see cref="BucketPlan"/> says, like <see cref="AllReduceSum(IReadOnlyList{Tensor})"/>:
    /// large ones in place, small ones packed into the bucket (root copies them in, the others copy them out), every
    /// ncclBroadcast queued on the backend's stream and the stream awaited once.</summary>
    public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of {Size}");
        RunPlan(tensors, "broadcast", "ncclBroadcast", copyIn: Rank == root, copyOut: Rank != root,
                (p, n, stream) => _nccl.Broadcast(p, p, n, (int)NcclDataType.Float32, root, Comm, stream));
    }

    public void Barrier()
    {
        Span<double> one = [1];
        AllReduceSum(one);
        if (one[0] != Size)
            throw new EngineException($"rank {Rank} of {Size}: the barrier's all-reduce counted {one[0]} ranks instead of {Size}");
    }

    private IntPtr Comm
    {
        get
        {
            ObjectDisposedException.ThrowIf(_comm == IntPtr.Zero, this);
            return _comm;
        }
    }

    /// <summary>An enqueue that NCCL refused: the communicator is unusable, so abort it before throwing.</summary>
    private void Enqueue(string call, int result)
    {
        if (result == (int)NcclResult.Success) return;
        string? text = _nccl.ErrorString(result);
        Abort();
        NcclStatus.Check($"{call} (rank {Rank} of {Size})", result, _ => text);
    }

    /// <summary>Waits for the backend's stream to drain (the collective and everything queued before it), polling so a
    /// dead peer ends in <see cref="CollectiveTimeoutException"/> instead of a hang.</summary>
    private void Wait(string collective, Stopwatch deadline)
    {
        var stream = _backend.CudaStreamHandle;
        var spin = new SpinWait();
        for (int polls = 0; ; polls++)
        {
            int done = CudaDriverNative.cuStreamQuery(stream);
            if (done == 0) return;
            if (done != CudaDriverNative.ErrorNotReady)
            {
                Abort();
                CudaDriverNative.Check($"cuStreamQuery after nccl {collective} (rank {Rank} of {Size})", done);
            }
            if (polls % 64 == 0)
            {
                int async;
                int r = _nccl.CommGetAsyncError(Comm, &async);
                int failure = r != (int)NcclResult.Success ? r : async is (int)NcclResult.Success or (int)NcclResult.InProgress ? 0 : async;
                if (failure != 0)
                {
                    string? text = _nccl.ErrorString(failure);
                    Abort();
                    NcclStatus.Check($"nccl {collective} (rank {Rank} of {Size}, reported by ncclCommGetAsyncError)", failure, _ => text);
                }
            }
            if (deadline.Elapsed > Timeout)
            {
                Abort();
                throw new CollectiveTimeoutException($"nccl {collective}", Rank, Size, Timeout);
            }
            if (spin.NextSpinWillYield && polls > 1000) Thread.Sleep(1);
            else spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Frees the communicator and stops its kernels (ncclCommAbort); later calls throw ObjectDisposedException.</summary>
    private void Abort()
    {
        if (_comm == IntPtr.Zero) return;
        _aborted = true;
        var comm = _comm;
        _comm = IntPtr.Zero;
        _nccl.CommAbort(comm);
    }

    public void Dispose()
    {
        if (_comm != IntPtr.Zero && !_aborted)
        {
            var comm = _comm;
            _comm = IntPtr.Zero;
            try { _ = _backend.CudaStreamHandle; } // the backend's context current, as NCCL's teardown frees device memory
            catch (ObjectDisposedException) { }
            _nccl.CommDestroy(comm);
        }
        _bucket?.Dispose();
        _bucket = null;
    }
}
