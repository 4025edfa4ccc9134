using Engine.Tensors;

namespace Engine.Autograd;

/// <summary>Gradient checkpointing: run a block without recording, keep only its inputs, and recompute the block's
/// forward inside backward. Gradients are identical; the block's activations exist only while its backward runs.
/// The block must be deterministic given its inputs (dropout takes explicit seeds, so it is).</summary>
internal static class Checkpoint
{
    public static Tensor Run(Func<Tensor[], Tensor> block, params Tensor[] inputs)
    {
        if (!GradMode.Enabled) return block(inputs);
        Tensor y;
        using (GradMode.NoGrad()) y = block(inputs);
        // Recorded unconditionally: the block's own parameters may want gradients even when its inputs do not.
        var node = new Node("checkpoint", inputs) { OutputShape = y.Shape };
        var saved = new Tensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) saved[i] = node.Save(inputs[i]);
        node.SetBackward((g, n) =>
        {
            var grads = new Tensor?[inputs.Length];
            using (var scope = new TensorScope())
            {
                var leaves = new Tensor[inputs.Length];
                for (int i = 0; i < inputs.Length; i++)
                {
                    leaves[i] = saved[i].Share();
                    leaves[i].RequiresGrad = n.NeedsGrad[i];
                }
                Tensor y2;
                using (GradMode.EnableGrad()) y2 = block(leaves);
                if (y2.GradFn is not null) BackwardPass.Run(y2, g);
                for (int i = 0; i < inputs.Length; i++)
                {
                    grads[i] = leaves[i].Grad;
                    leaves[i].Grad = null;
                }
            }
            return grads;
        });
        y.GradFn = node;
        return y;
    }
}
