using Engine.Backends.Cpu;
using Engine.Distributed.Mpi;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary><c>engine selftest --collectives</c> run by every rank of an mpirun job: the CPU ranks' communicator checked
/// against sums known in closed form. Every value is a small integer times a power of two, so every partial sum is
/// exact in fp32 and fp64 whatever order Open MPI adds in, and each element is compared exactly; broadcasts (bytes and
/// fp32 tensors, some larger than the bucket) must deliver the root's bits. Sums that round are
/// checked for the same bits on every rank and in a repeated call; a bf16 tensor must be refused.</summary>
internal static class CollectivesSelfTest
{
    /// <summary>Element counts of the tensors summed in one call: packed ones (1, 1000, 7), ones that fill the 25 MiB
    /// bucket so it must be flushed between them (3·2^20 floats, 12 MiB, three of them), and one above a bucket that is
    /// reduced in place (7·2^20 floats, 28 MiB).</summary>
    private static readonly int[] Sizes = [1, 1000, 3 << 20, 7 << 20, 3 << 20, 3 << 20, 7];

    /// <summary>Runs the check in this process, one rank of an mpirun job: prints <c>collectives ok: mpi rank R of N</c>
    /// and returns true, or prints the first mismatch and returns false. <paramref name="stallRank"/> sleeps
    /// <paramref name="stallSeconds"/> before the barrier, so the other ranks' barrier times out (the timeout test; the
    /// other checks are skipped then).
    /// Throws <see cref="EngineException"/> when this is not an mpirun rank or a collective fails or times out.</summary>
    /// <param name="timeout">The collective timeout (null: <c>Communicators.DefaultTimeout</c>, 30 minutes).</param>
    /// <param name="stallRank">The rank that stalls before the barrier, or -1 for none.</param>
    /// <param name="stallSeconds">How long that rank sleeps.</param>
    /// <param name="output">Where the result line goes.</param>
    public static bool Run(TimeSpan? timeout, int stallRank, double stallSeconds, TextWriter output)
    {
        if (!(stallSeconds >= 0)) throw new EngineException($"--collectives-stall-seconds: expected seconds ≥ 0, got {stallSeconds}");
        var env = DistributedEnvironment.Detect();
        if (env is null || env.Launcher != DistributedLauncher.Mpirun)
            throw new EngineException("selftest --collectives: not an mpirun rank (OMPI_COMM_WORLD_SIZE is not set): start it as " +
                                      "`mpirun -np N engine selftest --collectives`");
        using var comm = MpiCommunicator.Create(env, timeout ?? Communicators.DefaultTimeout);
        string who = $"mpi rank {comm.Rank} of {comm.Size}";
        // With a stalling rank only the barrier runs: under a short test timeout on a loaded machine, the checks' own
        // collectives could otherwise time out first.
        var failure = stallRank >= 0 ? null
            : CheckTensors(comm) ?? CheckSameBits(comm) ?? CheckOverlappedBuckets(comm) ?? CheckDoubles(comm) ?? CheckBroadcast(comm) ?? CheckTensorBroadcast(comm) ?? CheckRefusesNonF32(comm);
        if (comm.Rank == stallRank) Thread.Sleep(TimeSpan.FromSeconds(stallSeconds));
        comm.Barrier();
        if (failure is not null)
        {
            output.WriteLine($"collectives FAILED: {who}: {failure}");
            return false;
        }
        output.WriteLine($"collectives ok: {who}");
        return true;
    }

    /// <summary>Uninitialized fp32 CPU tensors of <see cref="Sizes"/>, the last a 7-element view at offset 5 of a
    /// 20-element tensor filled with −3 (returned as Outer), whose other elements a collective must leave alone.</summary>
    private static (List<Tensor> Tensors, Tensor Outer) SizedTensors()
    {
        var cpu = CpuBackend.Instance;
        var outer = cpu.Zeros(new Shape(20), DType.F32);
        outer.F32().Fill(-3f);
        var tensors = new List<Tensor>();
        for (int k = 0; k < Sizes.Length; k++)
            tensors.Add(k == Sizes.Length - 1 ? outer.Slice(5, Sizes[k]) : cpu.Empty(new Shape(Sizes[k]), DType.F32));
        return (tensors, outer);
    }

    /// <summary>The failure message when a collective on the 7-element view at offset 5 changed an element of the
    /// 20-element tensor around it (filled with −3 by <see cref="SizedTensors"/>), or null.</summary>
    private static string? Touched(Tensor outer, string collective)
    {
        var around = outer.F32();
        for (int i = 0; i < around.Length; i++)
            if ((i < 5 || i >= 12) && around[i] != -3f)
                return $"{collective}: element {i} of the 20-element tensor outside the 7-element view is {around[i]}, expected -3 (untouched)";
        return null;
    }

    /// <summary>Rank r holds (r + 1)·(±((i + 31k) mod 1021 + 1)) at element i of tensor k, so the sum is
    /// N(N + 1)/2 times that integer, below 2^24 in magnitude for up to 127 ranks. The 7-element tensor is a view at
    /// offset 5 of a 20-element one whose other elements must come back untouched.</summary>
    private static string? CheckTensors(ICommunicator comm)
    {
        float weight = comm.Rank + 1, total = comm.Size * (comm.Size + 1) / 2;
        var (tensors, outer) = SizedTensors();
        try
        {
            for (int k = 0; k < tensors.Count; k++)
            {
                var s = tensors[k].F32();
                for (int i = 0; i < s.Length; i++) s[i] = weight * Base(k, i);
            }
            comm.AllReduceSum(tensors);
            for (int k = 0; k < tensors.Count; k++)
            {
                var s = tensors[k].F32();
                for (int i = 0; i < s.Length; i++)
                    if (s[i] != total * Base(k, i))
                        return $"all-reduce of {tensors.Count} tensors: tensor {k} ({Sizes[k]} floats) element {i} is {s[i]}, expected {total * Base(k, i)}";
            }
            if (Touched(outer, $"all-reduce of {tensors.Count} tensors") is string touched) return touched;
            return null;
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
            outer.Dispose();
        }

        static float Base(int k, int i) => ((i + 31 * k) % 1021 + 1) * (i % 2 == 0 ? 1f : -1f);
    }

    /// <summary>Sums that round (values of every magnitude and sign): the same call twice gives the same bits, and every
    /// rank holds rank 0's bits (broadcast and compared), for a packed tensor and one reduced in place.</summary>
    private static string? CheckSameBits(ICommunicator comm)
    {
        var cpu = CpuBackend.Instance;
        int[] sizes = [1000, 7 << 20];
        var tensors = sizes.Select(n => cpu.Empty(new Shape(n), DType.F32)).ToList();
        try
        {
            float[][] first = new float[sizes.Length][];
            for (int round = 0; round < 2; round++)
            {
                for (int k = 0; k < tensors.Count; k++)
                {
                    var s = tensors[k].F32();
                    for (int i = 0; i < s.Length; i++) s[i] = MathF.Sin(i * 0.37f + comm.Rank * 1.3f + k) * MathF.ScaleB(1f, (i + comm.Rank) % 41 - 20);
                }
                comm.AllReduceSum(tensors);
                for (int k = 0; k < tensors.Count; k++)
                {
                    var s = tensors[k].F32();
                    if (round == 0) { first[k] = s.ToArray(); continue; }
                    for (int i = 0; i < s.Length; i++)
                        if (BitConverter.SingleToInt32Bits(s[i]) != BitConverter.SingleToInt32Bits(first[k][i]))
                            return $"all-reduce of {tensors.Count} tensors, repeated: tensor {k} element {i} is {s[i]:R} the second time, {first[k][i]:R} the first";
                }
            }
            for (int k = 0; k < tensors.Count; k++)
            {
                var mine = tensors[k].F32().ToArray();
                var main = (float[])mine.Clone();
                comm.Broadcast(System.Runtime.InteropServices.MemoryMarshal.AsBytes(main.AsSpan()), 0);
                for (int i = 0; i < mine.Length; i++)
                    if (BitConverter.SingleToInt32Bits(mine[i]) != BitConverter.SingleToInt32Bits(main[i]))
                        return $"all-reduce of {tensors.Count} tensors: tensor {k} element {i} is {mine[i]:R} here, {main[i]:R} on rank 0";
            }
            return null;
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    /// <summary><see cref="GradientBucketer"/> against the blocking all-reduce of the same list in its ready order: two
    /// copies of tensors of <see cref="Sizes"/> (packed buckets, a flushed bucket, one reduced in place, a view inside a
    /// larger tensor) hold sums that round; one copy goes through <c>AllReduceSum</c>, the other through the bucketer,
    /// each rank reporting the tensors ready in an order of its own (rotated by its rank), so only the plan order can
    /// keep the ranks' collectives matched. Every element must have the same bits, the view's surroundings untouched.</summary>
    private static string? CheckOverlappedBuckets(ICommunicator comm)
    {
        var (blocking, blockingOuter) = SizedTensors();
        var (overlapped, overlappedOuter) = SizedTensors();
        try
        {
            for (int k = 0; k < Sizes.Length; k++)
            {
                var a = blocking[k].F32();
                for (int i = 0; i < a.Length; i++) a[i] = MathF.Sin(i * 0.29f + comm.Rank * 0.7f + k) * MathF.ScaleB(1f, (i * 3 + comm.Rank) % 37 - 18);
                a.CopyTo(overlapped[k].F32());
            }
            comm.AllReduceSum(GradientBucketer.ReadyOrder(blocking));
            using (var bucketer = new GradientBucketer(comm, overlapped, t => t))
            {
                bucketer.BeginSync();
                for (int j = 0; j < overlapped.Count; j++) bucketer.MarkReady(overlapped[(j + comm.Rank) % overlapped.Count]);
                bucketer.FinishSync();
            }
            for (int k = 0; k < Sizes.Length; k++)
            {
                ReadOnlySpan<float> a = blocking[k].F32(), b = overlapped[k].F32();
                for (int i = 0; i < a.Length; i++)
                    if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                        return $"overlapped gradient buckets: tensor {k} ({Sizes[k]} floats) element {i} is {b[i]:R}, the blocking all-reduce gives {a[i]:R}";
            }
            if (Touched(overlappedOuter, "overlapped gradient buckets") is string touched) return touched;
            return null;
        }
        finally
        {
            foreach (var t in blocking.Concat(overlapped)) t.Dispose();
            blockingOuter.Dispose();
            overlappedOuter.Dispose();
        }
    }

    /// <summary>The last rank broadcasts fp32 tensors of <see cref="Sizes"/> elements (packed ones, ones that flush the
    /// bucket, one above a bucket sent in place, and a 7-element view inside a 20-element tensor) holding values of every
    /// magnitude and sign, NaN and -0 included; every other rank starts from its own values and must end with the root's
    /// bits, the view's surroundings untouched. Then the same for one tensor above a bucket through
    /// <c>Broadcast(Tensor, root)</c>, from rank 0.</summary>
    private static string? CheckTensorBroadcast(ICommunicator comm)
    {
        var cpu = CpuBackend.Instance;
        int root = comm.Size - 1;
        var (tensors, outer) = SizedTensors();
        try
        {
            for (int k = 0; k < tensors.Count; k++) Fill(tensors[k].F32(), k, comm.Rank);
            // Both broadcasts run before any result is returned: a rank that returned early would leave the others
            // waiting in the second one.
            using var big = cpu.Empty(new Shape(MpiCommunicator.BucketBytes / sizeof(float) + 1001), DType.F32);
            Fill(big.F32(), 99, comm.Rank);
            comm.Broadcast(tensors, root);
            comm.Broadcast(big, 0);
            for (int k = 0; k < tensors.Count; k++)
                if (Mismatch(tensors[k].F32(), k, root) is int i)
                    return $"broadcast of {tensors.Count} tensors from rank {root}: tensor {k} ({Sizes[k]} floats) element {i} is " +
                           $"{tensors[k].F32()[i]:R}, expected {Value(k, i, root):R}";
            if (Touched(outer, $"broadcast of {tensors.Count} tensors") is string touched) return touched;
            if (Mismatch(big.F32(), 99, 0) is int j)
                return $"broadcast of one tensor of {big.NumElements} floats from rank 0: element {j} is {big.F32()[j]:R}, expected {Value(99, j, 0):R}";
            return null;
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
            outer.Dispose();
        }

        static void Fill(Span<float> s, int k, int rank)
        {
            for (int i = 0; i < s.Length; i++) s[i] = Value(k, i, rank);
        }
        static int? Mismatch(ReadOnlySpan<float> s, int k, int root)
        {
            for (int i = 0; i < s.Length; i++)
                if (BitConverter.SingleToInt32Bits(s[i]) != BitConverter.SingleToInt32Bits(Value(k, i, root))) return i;
            return null;
        }
        static float Value(int k, int i, int rank) => (i + k) % 997 switch
        {
            0 => float.NaN,
            1 => -0f,
            _ => MathF.Sin(i * 0.61f + k + rank * 2.3f) * MathF.ScaleB(1f, (i + 3 * rank) % 61 - 30),
        };
    }

    /// <summary>A bf16 tensor is refused before any rank communicates (every rank refuses it alike).</summary>
    private static string? CheckRefusesNonF32(ICommunicator comm)
    {
        using var f32 = CpuBackend.Instance.Zeros(new Shape(4), DType.F32);
        using var bf16 = CpuBackend.Instance.Zeros(new Shape(4), DType.BF16);
        try
        {
            comm.AllReduceSum([f32, bf16]);
            return "all-reduce of a bf16 tensor: no ArgumentException";
        }
        catch (ArgumentException e) when (e.Message.StartsWith("tensors[1] is ", StringComparison.Ordinal) && e.Message.Contains("fp32 CPU tensors only"))
        {
            return null;
        }
    }

    /// <summary>Rank r holds (r + 1)·2^-j at j: the sum is N(N + 1)/2·2^-j, exact in fp64.</summary>
    private static string? CheckDoubles(ICommunicator comm)
    {
        var values = new double[40];
        for (int j = 0; j < values.Length; j++) values[j] = (comm.Rank + 1) * Math.ScaleB(1.0, -j);
        comm.AllReduceSum(values);
        double total = comm.Size * (comm.Size + 1) / 2;
        for (int j = 0; j < values.Length; j++)
            if (values[j] != total * Math.ScaleB(1.0, -j))
                return $"all-reduce of {values.Length} doubles: element {j} is {values[j]:R}, expected {total * Math.ScaleB(1.0, -j):R}";
        return null;
    }

    /// <summary>The last rank broadcasts a byte pattern longer than the 25 MiB bucket (sent in two pieces); every other
    /// rank starts from 0xEE bytes and must end with the pattern.</summary>
    private static string? CheckBroadcast(ICommunicator comm)
    {
        int root = comm.Size - 1;
        var data = new byte[MpiCommunicator.BucketBytes + 1000];
        for (int i = 0; i < data.Length; i++) data[i] = comm.Rank == root ? Pattern(i, root) : (byte)0xEE;
        comm.Broadcast(data, root);
        for (int i = 0; i < data.Length; i++)
            if (data[i] != Pattern(i, root))
                return $"broadcast of {data.Length} bytes from rank {root}: byte {i} is {data[i]}, expected {Pattern(i, root)}";
        return null;

        static byte Pattern(int i, int root) => (byte)(i * 7 + i / 251 + root);
    }
}
