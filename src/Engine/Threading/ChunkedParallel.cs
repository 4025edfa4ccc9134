namespace Engine.Threading;

/// <summary>Splits a range of independent work items over the cores in contiguous chunks (a few per thread, for
/// balance), running inline when the work is too small to pay for a thread hand-off. Shared by the CPU backend and the
/// quantizers, which sit below the backends.</summary>
internal static class ChunkedParallel
{
    /// <param name="count">number of independent items; <paramref name="body"/> processes items [start, end).</param>
    /// <param name="costPerItem">rough work per item, to decide whether threads pay off.</param>
    /// <param name="inlineBelow">total work under which everything runs on the calling thread.</param>
    public static void For(int count, long costPerItem, long inlineBelow, int threads, Action<int, int> body)
    {
        threads = Math.Min(threads, count);
        if (threads <= 1 || count * costPerItem < inlineBelow)
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
