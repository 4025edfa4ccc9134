namespace Engine.Distributed;

/// <summary>A collective that was started and may still be in flight (<see cref="ICommunicator.StartAllReduceSum"/>).</summary>
internal interface IPendingCollective
{
    /// <summary>Lets the collective progress without waiting (Open MPI moves non-blocking collectives forward only inside
    /// MPI calls) and says whether it has completed.</summary>
    bool Test();
    /// <summary>Returns once the collective has completed, or throws <see cref="CollectiveTimeoutException"/> when it has
    /// not within the communicator's timeout, counted from this call (the other ranks may still be in their backward).</summary>
    void Wait();
}

/// <summary>Handles of collectives that need no waiting.</summary>
internal static class PendingCollective
{
    /// <summary>A collective that completed before its start returned.</summary>
    public static IPendingCollective Completed { get; } = new Done();

    private sealed class Done : IPendingCollective
    {
        public bool Test() => true;
        public void Wait() { }
    }
}
