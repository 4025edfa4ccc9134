using Engine.Threading;

namespace Engine.Backends.Cpu;

/// <summary>The CPU backend's thread count and its parallel loop (see <see cref="ChunkedParallel"/>).</summary>
internal static class CpuParallel
{
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <param name="costPerItem">rough work per item in flops, to decide whether to go parallel.</param>
    public static void For(int count, long costPerItem, Action<int, int> body) =>
        ChunkedParallel.For(count, costPerItem, 32_768, Threads, body);
}
