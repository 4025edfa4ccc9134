using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>Inference throughput of a model shape: a no-grad forward over a batch (logits included), and greedy
/// decoding with the KV cache at batch 1.</summary>
internal static class ForwardThroughput
{
    public sealed record Result(string Shape, int Batch, int Seq, double ForwardTokensPerSecond, double DecodeTokensPerSecond);

    public static Result Run(IBackend be, string shape, int batch, int seq, int decodeTokens, int iters = 3)
    {
        var c = BenchShapes.Get(shape);
        if (seq > c.MaxPositionEmbeddings) c = c with { MaxPositionEmbeddings = seq };
        using var model = new LlamaModel(c, be, PatternWeights.Create(c, be, new WeightOptions()));
        var rng = new Rng(1);
        var ids = new int[batch * seq];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.NextInt(c.VocabSize);
        using var idT = TensorScope.Unscoped(() => be.FromInts(ids, new Shape(batch, seq)));
        using var pos = TensorScope.Unscoped(() => model.Positions(batch, seq));
        double fwd = KernelBench.Time(be, () =>
        {
            using var _ = GradMode.NoGrad();
            using var s = new TensorScope();
            model.Logits(model.Forward(idT, pos, ForwardContext.Inference));
        }, iters);
        var gen = new Generator(model);
        gen.Generate(new[] { 1 }, 4, new SamplingOptions(), stopAtEos: false); // warm-up
        var sw = Stopwatch.StartNew();
        var all = gen.Generate(new[] { 1 }, decodeTokens, new SamplingOptions(), stopAtEos: false);
        double decode = (all.Length - 1) / sw.Elapsed.TotalSeconds;
        return new Result(shape, batch, seq, batch * seq / fwd, decode);
    }
}
