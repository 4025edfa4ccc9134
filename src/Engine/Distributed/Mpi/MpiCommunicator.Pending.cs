using System.Runtime.InteropServices;
using Engine.Tensors;

namespace Engine.Distributed.Mpi;

/// <summary>The non-blocking all-reduce that gradient buckets overlap with the backward pass: MPI_Iallreduce in place on
/// the tensor's own memory, pinned until the request completes, with the count the blocking path uses for the same
/// length, so both give the same sums.</summary>
internal sealed unsafe partial class MpiCommunicator
{
    /// <summary>Requests started and not yet completed: MPI_Finalize must not run over them (it would wait for them).</summary>
    private int _inFlight;

    public bool OverlapsCollectives => true;

    public IPendingCollective StartAllReduceSum(Tensor tensor)
    {
        RequireCpuF32([tensor], "sums");
        Ready();
        string what = $"all-reduce of a {tensor.NumElements}-element bucket";
        var pin = Pin(tensor, out var first);
        // MPI's count is an int: a longer tensor goes as consecutive requests, as Reduce splits it.
        var requests = new List<IntPtr>();
        try
        {
            for (long done = 0; done < tensor.NumElements;)
            {
                int n = (int)Math.Min(int.MaxValue, tensor.NumElements - done);
                IntPtr request;
                _mpi.Check(_mpi.Iallreduce(MpiNative.InPlace, first + done, n, _mpi.Float, _mpi.OpSum, _mpi.CommWorld, &request), "MPI_Iallreduce");
                requests.Add(request);
                done += n;
            }
        }
        catch
        {
            if (requests.Count == 0) pin.Free();
            else _broken = true; // a started request may still write into the pinned array
            throw;
        }
        _inFlight++;
        return new PendingAllReduce(this, pin, requests.ToArray(), what);
    }

    private sealed class PendingAllReduce(MpiCommunicator comm, GCHandle pin, IntPtr[] requests, string collective) : IPendingCollective
    {
        private int _completed;

        public bool Test()
        {
            while (_completed < requests.Length)
            {
                if (comm._broken) return false;
                int done = 0;
                MpiStatus status;
                fixed (IntPtr* r = &requests[_completed]) comm._mpi.Check(comm._mpi.Test(r, &done, &status), "MPI_Test");
                if (done == 0) return false;
                if (++_completed == requests.Length) Complete();
            }
            return true;
        }

        public void Wait()
        {
            if (_completed == requests.Length) return;
            comm.Ready();
            var deadline = comm.Deadline();
            while (_completed < requests.Length)
            {
                comm.Wait(ref requests[_completed], collective, deadline);
                if (++_completed == requests.Length) Complete();
            }
        }

        private void Complete()
        {
            pin.Free();
            comm._inFlight--;
        }
    }
}
