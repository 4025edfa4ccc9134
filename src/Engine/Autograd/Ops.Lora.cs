using Engine.Backends;
using Engine.Tensors;

namespace Engine.Autograd;

internal static partial class Ops
{
    /// <summary>PEFT's LoRA over a frozen base as one recorded op: y = base(x) + s·dropout(x)·Aᵀ·Bᵀ, A [r, in] and B
    /// [out, r], in the activation dtype (an fp32 A or B is brought to it by the backend's matmul, as
    /// <see cref="LinearInActivationType"/> casts it). <paramref name="baseForward"/> is the base's own op (dense, NF4,
    /// ggml); its output buffer receives the adapter term as one GEMM with beta = 1, so there is no scale or add pass.
    /// Only x, h = dropout(x)·Aᵀ and the seed are kept: backward regenerates the dropout mask from the seed instead of
    /// holding the dropped x from forward to backward, and adds the adapter's share of dx into the buffer the base's
    /// backward wrote (one GEMM with beta = 1 when p = 0).</summary>
    public static Tensor LoraLinear(Tensor x, Func<Tensor, Tensor> baseForward, Tensor a, Tensor b, float scaling, float p, ulong seed)
    {
        if (p < 0f || p >= 1f) throw new ArgumentOutOfRangeException(nameof(p), $"lora dropout {p} is outside [0, 1)");
        int rank = a.Shape[0], inF = a.Shape[1], outF = b.Shape[0];
        if (x.Shape.Last != inF || b.Shape[1] != rank)
            throw new ArgumentException($"lora: input {x.Shape} does not fit A {a.Shape} and B {b.Shape}");
        var be = Backend.Of(x, a);
        Backend.Of(a, b); // throws when B lives elsewhere
        int rows = (int)x.Shape.Rows;
        var flatIn = new Shape(rows, inF);
        var flatOut = new Shape(rows, outF);

        var y = baseForward(x);
        var baseNode = TakeOverBase(y, x);
        if (y.Shape.Last != outF || y.Shape.Rows != rows)
            throw new ArgumentException($"lora: the base gave {y.Shape} for input {x.Shape}, B {b.Shape} needs rows of {outF}");
        using var x2 = x.Reshape(flatIn, track: false);
        using var h = New(be, new Shape(rows, rank), be.ActivationType);
        using (var xd = p > 0 ? Dropped(be, x2, p, seed) : x2.Share(track: false)) be.MatMul(xd, false, a, true, h);
        using (var y2 = y.Reshape(flatOut, track: false)) be.MatMul(h, false, b, true, y2, scaling, 1f);

        // The base's other inputs (a weight, should one be trainable) are this op's inputs 3.. so their gradients from
        // the base's backward still reach them.
        var inputs = new[] { x, a, b }.Concat(baseNode?.Inputs.Skip(1) ?? Enumerable.Empty<Tensor>()).ToArray();
        var output = Record("lora_linear", y, inputs, node =>
        {
            bool needX = node.NeedsGrad[0], needA = node.NeedsGrad[1], needB = node.NeedsGrad[2];
            var sx = needA ? node.Save(x2) : null;
            var sh = needB ? node.Save(h) : null;
            var sa = needX ? node.Save(a) : null;
            var sb = needX || needA ? node.Save(b) : null;
            if (baseNode is not null) node.Adopt(baseNode);
            return (g0, n) =>
            {
                var grads = new Tensor?[inputs.Length];
                if (baseNode is not null)
                {
                    // The base's own backward (frozen: dx only) writes the input gradient the adapter's share joins.
                    var baseGrads = baseNode.RunBackward(g0);
                    grads[0] = baseGrads[0];
                    for (int i = 1; i < baseGrads.Length; i++) grads[2 + i] = baseGrads[i];
                }
                using var g = g0.Reshape(flatOut, track: false);
                if (n.NeedsGrad[2])
                {
                    var (target, beta, returned) = WeightGradTarget(be, b);
                    be.MatMul(g, true, sh!, false, target, scaling, beta);
                    grads[2] = returned;
                }
                if (!n.NeedsGrad[0] && !n.NeedsGrad[1]) return grads;

                using var dh = New(be, new Shape(rows, rank), be.ActivationType);
                be.MatMul(g, false, sb!, false, dh, scaling, 0f);
                Tensor? scratch = null; // one [rows, in] buffer: the regenerated dropout(x), then dh·A before its mask
                try
                {
                    if (n.NeedsGrad[1])
                    {
                        var (target, beta, returned) = WeightGradTarget(be, a);
                        if (p > 0) scratch = Dropped(be, sx!, p, seed);
                        be.MatMul(dh, true, scratch ?? sx!, false, target, 1f, beta);
                        grads[1] = returned;
                    }
                    if (n.NeedsGrad[0])
                    {
                        // dx = base's input gradient + mask∘(dh·A)/(1−p), added into the base's buffer. The mask is per
                        // element of x, so it cannot move onto dh: with dropout the product goes through the scratch
                        // and the dropout kernel adds it under the mask in one pass.
                        float beta = grads[0] is null ? 0f : 1f;
                        var gx = grads[0] ??= New(be, x.Shape, be.ActivationType);
                        using var gx2 = gx.Reshape(flatIn, track: false);
                        if (p <= 0) be.MatMul(dh, false, sa!, false, gx2, 1f, beta);
                        else
                        {
                            scratch ??= New(be, flatIn, be.ActivationType);
                            be.MatMul(dh, false, sa!, false, scratch);
                            be.Dropout(scratch, p, seed, gx2, accumulate: beta != 0f);
                        }
                    }
                    return grads;
                }
                finally { scratch?.Dispose(); }
            };
        });
        if (output.GradFn is null) baseNode?.Release();
        return output;
    }

    /// <summary>The base's node, detached from its output so the LoRA op can write into that output and run the node's
    /// backward itself (the base's input gradient then shares a buffer with the adapter's). Null when the base was not
    /// recorded. A base that is not one op with x as its first input is refused: its graph could not be run from here.</summary>
    private static Node? TakeOverBase(Tensor y, Tensor x)
    {
        if (y.GradFn is not Node node) return null;
        if (node.Inputs.Length == 0 || !ReferenceEquals(node.Inputs[0], x))
            throw new InvalidOperationException($"lora: the base must be one op on the layer input, got {node.OpName}");
        y.GradFn = null;
        return node;
    }

    private static Tensor Dropped(IBackend be, Tensor x, float p, ulong seed)
    {
        var into = New(be, x.Shape, be.ActivationType);
        be.Dropout(x, p, seed, into);
        return into;
    }
}
