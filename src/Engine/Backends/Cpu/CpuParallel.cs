namespace Engine.Backends.Cpu;

/// <summary>Splits a range of independent work items over the CPU cores in contiguous chunks, running inline when the
/// work is too small to pay for a thread hand-off.</summary>
internal static class CpuParallel
{
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <param name="costPerItem">rough work per item in flops, to decide whether to go parallel.</param>
    public static void For(int count, long costPerItem, Action<int, int> body)
    {
        int threads = Math.Min(Threads, count);
        if (threads <= 1 || count * costPerItem < 32_768)
        {
            body(0, count);
            return;
        }
        int chunks = Math.Min(count, threads * 4);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            int start = (int)((long)count * c / chunks);
            int end = (int)((long)count * (c + 1) / chunks);
            if (end > start) body(start, end);
        });
    }
}
