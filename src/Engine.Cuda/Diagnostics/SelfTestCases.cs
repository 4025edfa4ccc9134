using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>The self-test cases: each builds identical inputs on both backends, runs one op family the way the
/// autograd layer calls it (activations in the candidate's activation dtype, gradients and optimizer state in f32),
/// and checks every output. <see cref="Cases"/> is the one list of what the self-test covers; each op family's cases
/// live in SelfTestCases.{Family}.cs, named like the backend partials that implement them (IlgpuBackend.{Family}.cs,
/// CpuBackend.{Family}.cs).</summary>
internal static partial class SelfTestCases
{
    private sealed record Dims(int Elems, int M, int K, int N, int Batch, int Rows, int Dim, int Vocab, int EmbDim, int Tokens,
                               int RopeHeads, int HeadDim, int MaxPos, int AttB, int Tq, int Tk, int H, int Hkv, int Dh,
                               int CeRows, int CeVocab, int AdamN);

    private static readonly Dims TinyDims = new(300, 7, 9, 5, 3, 6, 40, 20, 12, 9, 3, 8, 16, 2, 5, 7, 4, 2, 8, 6, 50, 100);
    private static readonly Dims RealDims = new(1 << 20, 256, 384, 512, 4, 256, 2048, 32000, 512, 256, 8, 64, 512, 2, 128, 160, 8, 2, 64, 64, 32000, 1 << 20);

    private static Dims D(SelfTestHarness h) => h.Tiny ? TinyDims : RealDims;

    /// <summary>Every case, in the order they run and report.</summary>
    private static readonly (string Name, Action<SelfTestHarness> Body)[] Cases =
    {
        // Memory: allocation, upload/download, dtype conversion, fill, views
        ("convert", Convert),
        // Elementwise
        ("add", h => Binary(h, "add", (b, x, y, o) => b.Add(x, y, o))),
        ("mul", h => Binary(h, "mul", (b, x, y, o) => b.Mul(x, y, o))),
        ("scale", Scale),
        ("axpy", Axpy),
        ("dropout", Dropout),
        ("broadcast_scalar", BroadcastScalar),
        // Reduce: sum, sum of squares, the training step's multi-tensor totals
        ("sum", Sum),
        ("sum_into", SumInto),
        // MatMul: every GEMM path on CUDA
        ("matmul", MatMul),
        // Embedding, Norm, Rope, Attention, SwiGlu: model primitives, forward and backward
        ("embedding", Embedding),
        ("rmsnorm", RmsNorm),
        ("rope", Rope),
        ("attention", Attention),
        ("swiglu", SwiGlu),
        // Loss
        ("cross_entropy", CrossEntropy),
        // Optim
        ("adamw", AdamW),
        // Nf4: dequantize and the QLoRA products
        ("nf4", Nf4),
    };

    /// <summary>Runs <paramref name="body"/> once per setting of a backend knob (a GEMM path, an attention kernel) with
    /// " [setting]" as its label suffix, and restores the knob afterwards. A setting that throws is recorded as one
    /// failed row, so that one broken path (say cuBLASLt missing) does not hide the others.</summary>
    private static void EachSetting<T>(SelfTestHarness h, string op, T[] settings, Func<T> get, Action<T> set, Action<string> body)
    {
        var saved = get();
        try
        {
            foreach (var setting in settings)
            {
                set(setting);
                try
                {
                    body($" [{setting}]");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    h.Record($"{op} [{setting}]", "-", h.Act.Name(), double.NaN, 0, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
                }
            }
        }
        finally
        {
            set(saved);
        }
    }

    public static readonly IReadOnlyList<string> Names = Cases.Select(c => c.Name).ToArray();

    public static void Run(string name, SelfTestHarness h)
    {
        foreach (var c in Cases)
            if (c.Name == name) { h.RestartClock(); c.Body(h); return; }
        throw new ArgumentException($"no self-test case named {name}");
    }
}
