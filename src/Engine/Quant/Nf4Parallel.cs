namespace Engine.Quant;

/// <summary>Splits independent quantization blocks over the cores in contiguous chunks (Quant sits below the
/// backends, so it does not use the CPU backend's helper). Small jobs run inline.</summary>
internal static class Nf4Parallel
{
    private const long InlineElements = 1 << 16;

    /// <param name="blockCount">number of independent blocks.</param>
    /// <param name="elementsPerBlock">rough work per block, to decide whether threads pay off.</param>
    /// <param name="body">processes blocks [start, end).</param>
    public static void ForBlocks(int blockCount, int elementsPerBlock, Action<int, int> body)
    {
        int threads = Environment.ProcessorCount;
        if (threads <= 1 || blockCount < 2 || (long)blockCount * elementsPerBlock < InlineElements)
        {
            body(0, blockCount);
            return;
        }
        int chunks = Math.Min(blockCount, threads * 4);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            int start = (int)((long)blockCount * c / chunks);
            int end = (int)((long)blockCount * (c + 1) / chunks);
            if (end > start) body(start, end);
        });
    }
}
