using System.Runtime.InteropServices;
using Engine.Backends.Cpu;
using Engine.Tensors;

namespace Engine.Distributed.Mpi;

/// <summary>The communicator of CPU ranks ("mpi"): Open MPI's non-blocking collectives on MPI_COMM_WORLD, each waited
/// for by polling MPI_Test against a deadline, so a dead or hung rank ends in a <see cref="CollectiveTimeoutException"/>
/// instead of a hang. Small fp32 tensors travel packed in one reused 25 MiB host bucket (DDP's default bucket size),
/// larger ones are reduced in place; tensor broadcasts (ZeRO-1's parameters) travel the same way. Open MPI picks its reduction algorithm from the world size and the message size
/// only, and every rank packs the same buckets, so the sums are the same on every rank and from run to run for a given
/// world size. Called from one thread (MPI_THREAD_FUNNELED).</summary>
internal sealed unsafe partial class MpiCommunicator : ICommunicator
{
    /// <summary>Bytes of the packing bucket: PyTorch DDP's default <c>bucket_cap_mb</c> of 25.</summary>
    public const int BucketBytes = 25 << 20;
    private const int BucketFloats = BucketBytes / sizeof(float);

    private readonly MpiNative _mpi;
    private readonly bool _initializedHere;
    private float* _bucket;
    private bool _broken, _disposed;

    private MpiCommunicator(MpiNative mpi, int rank, int size, TimeSpan timeout, bool initializedHere)
    {
        _mpi = mpi;
        Rank = rank;
        Size = size;
        Timeout = timeout;
        _initializedHere = initializedHere;
    }

    public string Name => "mpi";
    public int Rank { get; }
    public int Size { get; }
    public TimeSpan Timeout { get; }
    public (int Bucket, int Direct) PackingElements => (BucketFloats, BucketFloats);

    /// <summary>Initializes MPI (MPI_Init_thread with MPI_THREAD_FUNNELED, unless something in this process already did)
    /// and checks that MPI's rank and world size are the ones mpirun's variables in <paramref name="env"/> name.</summary>
    public static MpiCommunicator Create(DistributedEnvironment env, TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), $"the collective timeout must be positive, got {timeout}");
        var mpi = MpiNative.Load();
        int flag = 0;
        mpi.Check(mpi.Finalized(&flag), "MPI_Finalized");
        if (flag != 0) throw new EngineException("MPI_Init_thread: MPI was already finalized in this process and cannot start again");
        mpi.Check(mpi.Initialized(&flag), "MPI_Initialized");
        bool initializedHere = flag == 0;
        if (initializedHere)
        {
            int provided = 0;
            mpi.Check(mpi.InitThread(null, null, MpiNative.ThreadFunneled, &provided), "MPI_Init_thread");
            if (provided < MpiNative.ThreadFunneled)
                throw new EngineException($"MPI_Init_thread: Open MPI provides thread level {provided}, the training thread needs MPI_THREAD_FUNNELED (1)");
        }
        // Errors come back as return codes (checked by name) instead of MPI_ERRORS_ARE_FATAL aborting the whole job.
        mpi.Check(mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank = 0, size = 0;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        if (rank != env.Rank || size != env.Size)
            throw new EngineException($"MPI_COMM_WORLD is rank {rank} of {size}, but the environment variables (OMPI_COMM_WORLD_RANK, " +
                                      $"OMPI_COMM_WORLD_SIZE) say rank {env.Rank} of {env.Size}: start the ranks with Open MPI's mpirun");
        return new MpiCommunicator(mpi, rank, size, timeout, initializedHere);
    }

    public void AllReduceSum(IReadOnlyList<Tensor> tensors)
    {
        RequireCpuF32(tensors, "sums");
        Ready();
        var deadline = Deadline();
        string what = $"all-reduce of {tensors.Count} tensors";
        foreach (var step in BucketPlan.Plan(Counts(tensors), BucketFloats, BucketFloats))
        {
            if (step.Direct is int direct)
            {
                ReduceInPlace(tensors[direct], what, deadline);
                continue;
            }
            foreach (var slot in step.Packed) tensors[slot.Tensor].F32().CopyTo(new Span<float>(Bucket() + slot.Start, slot.Count));
            Reduce(_bucket, step.PackedElements, _mpi.Float, sizeof(float), what, deadline);
            foreach (var slot in step.Packed) new ReadOnlySpan<float>(_bucket + slot.Start, slot.Count).CopyTo(tensors[slot.Tensor].F32());
        }
    }

    /// <summary>The element counts that <see cref="BucketPlan"/> plans the collectives of a tensor list by.</summary>
    private static long[] Counts(IReadOnlyList<Tensor> tensors)
    {
        var counts = new long[tensors.Count];
        for (int i = 0; i < counts.Length; i++) counts[i] = tensors[i].NumElements;
        return counts;
    }

    /// <summary>Sums a tensor of at least a bucket across ranks where it lies (MPI_IN_PLACE).</summary>
    private void ReduceInPlace(Tensor t, string collective, long deadline) =>
        Pinned(t, p => Reduce((void*)p, t.NumElements, _mpi.Float, sizeof(float), collective, deadline));

    /// <summary>Runs <paramref name="collective"/> on the address of a CPU fp32 tensor's first element, its array pinned
    /// by a GC handle that is never freed after a timeout: the outstanding request may still write into it.</summary>
    private void Pinned(Tensor t, Action<IntPtr> collective)
    {
        var pin = Pin(t, out var first);
        try
        {
            collective((IntPtr)first);
        }
        finally
        {
            if (!_broken) pin.Free();
        }
    }

    /// <summary>Pins a CPU fp32 tensor's array; <paramref name="first"/> is the address of the tensor's first element.</summary>
    private static GCHandle Pin(Tensor t, out float* first)
    {
        var pin = GCHandle.Alloc((float[])((CpuStorage)t.Storage).Data, GCHandleType.Pinned);
        first = (float*)pin.AddrOfPinnedObject() + t.Offset;
        return pin;
    }

    /// <summary>Throws unless every tensor is an fp32 CPU tensor (checked on every rank before any communicates).</summary>
    private static void RequireCpuF32(IReadOnlyList<Tensor> tensors, string verb)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.DType != DType.F32 || t.Storage is not CpuStorage)
                throw new ArgumentException($"tensors[{i}] is {t}: the mpi communicator {verb} fp32 CPU tensors only", nameof(tensors));
        }
    }

    public void AllReduceSum(Span<double> values)
    {
        Ready();
        var deadline = Deadline();
        string what = $"all-reduce of {values.Length} doubles";
        var bucket = new Span<double>(Bucket(), BucketBytes / sizeof(double));
        for (int done = 0; done < values.Length;)
        {
            int n = Math.Min(bucket.Length, values.Length - done);
            values.Slice(done, n).CopyTo(bucket);
            Reduce(_bucket, n, _mpi.Double, sizeof(double), what, deadline);
            bucket[..n].CopyTo(values.Slice(done, n));
            done += n;
        }
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of {Size}");
        Ready();
        var deadline = Deadline();
        string what = $"broadcast of {data.Length} bytes from rank {root}";
        var bucket = new Span<byte>(Bucket(), BucketBytes);
        for (int done = 0; done < data.Length;)
        {
            int n = Math.Min(bucket.Length, data.Length - done);
            if (Rank == root) data.Slice(done, n).CopyTo(bucket);
            IntPtr request;
            _mpi.Check(_mpi.Ibcast(_bucket, n, _mpi.Byte, root, _mpi.CommWorld, &request), "MPI_Ibcast");
            Wait(ref request, what, deadline);
            if (Rank != root) bucket[..n].CopyTo(data.Slice(done, n));
            done += n;
        }
    }

    /// <summary>Broadcasts the tensors as <see cref="BucketPlan"/> says with the all-reduce's sizes: those of at least a
    /// bucket in place, smaller ones packed in order into the bucket (root copies them in, the others copy them out).</summary>
    public void Broadcast(IReadOnlyList<Tensor> tensors, int root)
    {
        RequireCpuF32(tensors, "broadcasts");
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of {Size}");
        Ready();
        var deadline = Deadline();
        string what = $"broadcast of {tensors.Count} tensors from rank {root}";
        foreach (var step in BucketPlan.Plan(Counts(tensors), BucketFloats, BucketFloats))
        {
            if (step.Direct is int direct)
            {
                var t = tensors[direct];
                Pinned(t, p => Bcast((void*)p, t.NumElements, _mpi.Float, sizeof(float), root, what, deadline));
                continue;
            }
            if (Rank == root)
                foreach (var slot in step.Packed) tensors[slot.Tensor].F32().CopyTo(new Span<float>(Bucket() + slot.Start, slot.Count));
            Bcast(Bucket(), step.PackedElements, _mpi.Float, sizeof(float), root, what, deadline);
            if (Rank != root)
                foreach (var slot in step.Packed) new ReadOnlySpan<float>(_bucket + slot.Start, slot.Count).CopyTo(tensors[slot.Tensor].F32());
        }
    }

    public void Barrier()
    {
        Ready();
        IntPtr request;
        _mpi.Check(_mpi.Ibarrier(_mpi.CommWorld, &request), "MPI_Ibarrier");
        Wait(ref request, "barrier", Deadline());
    }

    /// <summary>The native host bucket (allocated on first use): packing for small tensors and staging for spans, whose
    /// memory cannot be pinned beyond a call.</summary>
    private float* Bucket() => _bucket is not null ? _bucket : _bucket = (float*)NativeMemory.Alloc(BucketBytes);

    /// <summary>Sums <paramref name="count"/> elements at <paramref name="data"/> in place across ranks, in calls of at
    /// most int.MaxValue elements (MPI's count is an int).</summary>
    private void Reduce(void* data, long count, IntPtr datatype, int elementBytes, string collective, long deadline)
    {
        for (long done = 0; done < count;)
        {
            int n = (int)Math.Min(int.MaxValue, count - done);
            IntPtr request;
            _mpi.Check(_mpi.Iallreduce(MpiNative.InPlace, (byte*)data + done * elementBytes, n, datatype, _mpi.OpSum, _mpi.CommWorld, &request),
                       "MPI_Iallreduce");
            Wait(ref request, collective, deadline);
            done += n;
        }
    }

    /// <summary>Broadcasts <paramref name="count"/> elements at <paramref name="data"/> from <paramref name="root"/> in
    /// place, in calls of at most int.MaxValue elements (MPI's count is an int).</summary>
    private void Bcast(void* data, long count, IntPtr datatype, int elementBytes, int root, string collective, long deadline)
    {
        for (long done = 0; done < count;)
        {
            int n = (int)Math.Min(int.MaxValue, count - done);
            IntPtr request;
            _mpi.Check(_mpi.Ibcast((byte*)data + done * elementBytes, n, datatype, root, _mpi.CommWorld, &request), "MPI_Ibcast");
            Wait(ref request, collective, deadline);
            done += n;
        }
    }

    /// <summary>Polls MPI_Test until <paramref name="request"/> completes (MPI progresses only inside MPI calls, so the
    /// first polls spin), backing off to Thread.Yield, Sleep(0) and Sleep(1) so a waiting rank leaves the cores to the
    /// ranks it waits for. Past <paramref name="deadline"/> the communicator is broken: the request stays outstanding,
    /// its buffer must stay alive, and no later collective or MPI_Finalize is attempted.</summary>
    private void Wait(ref IntPtr request, string collective, long deadline)
    {
        long start = Environment.TickCount64;
        for (int polls = 0; ; polls++)
        {
            int done = 0;
            MpiStatus status;
            fixed (IntPtr* r = &request) _mpi.Check(_mpi.Test(r, &done, &status), "MPI_Test");
            if (done != 0) return;
            long now = Environment.TickCount64;
            if (now > deadline)
            {
                _broken = true;
                throw new CollectiveTimeoutException(collective, Rank, Size, Timeout);
            }
            long waited = now - start;
            if (polls < 1000) Thread.SpinWait(20);
            else if (waited < 10) Thread.Yield();
            else if (waited < 100) Thread.Sleep(0);
            else Thread.Sleep(1);
        }
    }

    private long Deadline() => Environment.TickCount64 + (long)Math.Min(Math.Ceiling(Timeout.TotalMilliseconds), long.MaxValue / 4);

    private void Ready()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken)
            throw new EngineException($"rank {Rank} of {Size}: the mpi communicator is unusable after a collective timed out");
    }

    /// <summary>MPI_Finalize, once, when this communicator initialized MPI, no collective timed out and none started by
    /// <see cref="StartAllReduceSum"/> is still in flight (finalizing waits for every rank, and after a timeout or a
    /// failed step one of them may be gone: the process exits instead and mpirun ends the job). The bucket is kept then,
    /// since an outstanding request may still write into it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_broken || _inFlight > 0) return;
        if (_bucket is not null)
        {
            NativeMemory.Free(_bucket);
            _bucket = null;
        }
        if (!_initializedHere) return;
        int finalized = 0;
        _mpi.Check(_mpi.Finalized(&finalized), "MPI_Finalized");
        if (finalized == 0) _mpi.Check(_mpi.Finalize(), "MPI_Finalize");
    }
}
